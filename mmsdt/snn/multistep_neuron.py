"""The stateful multi-step integer neuron (integrate-and-fire, optionally leaky).

For the T time steps of one forward call (input ``X`` folded T-major, ``(T * B, ...)``, see
:mod:`mmsdt.snn.time_axis`) and ``V_0 = 0``::

    H_t = decay * V_{t-1} + X_t                      (charge; decay = 1: IF, < 1: leaky)
    S_t = round(clamp(H_t / v_threshold, 0, D))      (fire: integer count, the shared rule)
    V_t = H_t - v_threshold * S_t                    (soft reset: subtract what was fired)

and the output is ``S_t / norm``. The state lives only inside the call: nothing is kept on
the module, so there is no ``reset_net``, nothing leaks between batches, and DDP, EMA and
deep copies see a parameter-free module. The one exception is explicit: inside
:func:`mmsdt.snn.stream_state.carrying` (streaming detection), ``V_0`` is the membrane the
previous call of the same batch row left, taken from and returned to that store (detached:
no gradient crosses the call boundary). With ``T = 1`` (or no time axis) ``H_1 = X_1`` and
the neuron is exactly :class:`~mmsdt.snn.MultiSpike`.

Backward is the straight-through rule of :mod:`mmsdt.snn.spike_rule` applied at every step
(``dS_t / dH_t = mask_t / v_threshold``) plus the membrane path through time:
``dL/dH_t = dL/dS_t * mask_t / (v_threshold * norm) + decay * dL/dH_{t+1} * r_t`` with
``r_t = 1`` when the reset is detached (``detach_reset=True``, the default) and
``r_t = 1 - mask_t`` otherwise. Without the detach the membrane path is exactly zero wherever
the count is inside the clamp range (the subtraction cancels the charge's gradient), so the
state would carry no gradient where it matters; hence the default. Only one bool mask per
element is saved (bit-packed when large), as for the stateless neuron. The step loop runs
eagerly; the fused training kernels of :mod:`mmsdt.snn.kernels` serve the stateless neuron.
"""
import math
from typing import Optional

import torch

from .kernels.bitpack import pack_mask, unpack_mask
from .kernels.compact_storage import register_spike_output
from .kernels.fused_bn_spike import batch_norm
from .neuron import MIN_PACKED_MASK_NUMEL, MultiSpike
from .spike_rule import round_counts, straight_through_mask
from .spike_train import SpikeTrain
from .stream_state import current_stream_state
from .time_axis import current_time_steps, unfold_time

NEURON_MODES = ('stateless', 'stateful')
STATEFUL_KEYS = ('decay', 'v_threshold', 'detach_reset')


def _integrate(xs: torch.Tensor, max_value: int, rounding: str, decay: float,
               threshold: float, include_boundary: Optional[bool] = None,
               potentials: bool = False, v0: Optional[torch.Tensor] = None,
               final: Optional[list] = None):
    """The step loop on ``xs`` (T, B, ...): integer counts (T, B, ...), and the straight-
    through masks (``include_boundary`` given) or the rounding inputs ``H_t / threshold``
    (``potentials``). ``v0`` (B, ...) is the initial membrane (None: zero); the last one is
    appended to ``final`` when given."""
    counts = torch.empty_like(xs)
    extra = None
    if include_boundary is not None:
        extra = torch.empty(xs.shape, dtype=torch.bool, device=xs.device)
    elif potentials:
        extra = torch.empty_like(xs)
    v = v0
    for t in range(xs.shape[0]):
        h = xs[t] if v is None else (v if decay == 1 else decay * v) + xs[t]
        u = h if threshold == 1 else h / threshold
        clamped = u.clamp(0, max_value)
        if include_boundary is not None:
            extra[t] = straight_through_mask(u, clamped, max_value, include_boundary)
        elif potentials:
            extra[t] = u
        s = round_counts(clamped, rounding, inplace=True)
        counts[t] = s
        v = h - (s if threshold == 1 else threshold * s)
    if final is not None:
        final.append(v)
    return counts, extra


class _MultiStepFunction(torch.autograd.Function):
    """Forward: the step loop. Backward: straight-through per step plus the membrane path."""

    @staticmethod
    def forward(ctx, x, steps, max_value, norm, rounding, include_boundary, decay, threshold,
                detach_reset, v0=None, final=None):
        xs = unfold_time(x, steps)
        counts, mask = _integrate(xs, max_value, rounding, decay, threshold, include_boundary,
                                  v0=v0, final=final)
        ctx.save_for_backward(pack_mask(mask) if mask.numel() >= MIN_PACKED_MASK_NUMEL
                              else mask)
        ctx.shape = mask.shape
        ctx.scale = threshold * norm
        ctx.decay, ctx.detach_reset = decay, detach_reset
        out = counts.reshape(x.shape)
        return out if norm == 1 else out.div_(norm)

    @staticmethod
    def backward(ctx, grad_out):
        (saved, ) = ctx.saved_tensors
        mask = saved if saved.dtype == torch.bool else unpack_mask(saved, ctx.shape)
        g = grad_out.unflatten(0, ctx.shape[:2])
        grad = torch.empty_like(g)
        carry = None
        for t in reversed(range(g.shape[0])):
            gh = g[t] * mask[t]
            if ctx.scale != 1:
                gh = gh / ctx.scale
            if carry is not None:
                dv = carry if ctx.decay == 1 else ctx.decay * carry  # dL/dV_t
                gh = gh + (dv if ctx.detach_reset else dv * ~mask[t])
            grad[t] = gh
            carry = gh
        return (grad.reshape(grad_out.shape), None, None, None, None, None, None, None, None,
                None, None)


class MultiStepIntIF(MultiSpike):
    """Stateful multi-step integer IF / LIF neuron (see the module doc for the equations).

    A :class:`MultiSpike` subclass: the recorder, the energy counter, spike-driven mode and
    its verification, BN / norm folding treat it as a neuron with the same ``max_value`` and
    ``norm``. It reads T from :func:`~mmsdt.snn.time_axis.current_time_steps`, which the model
    sets for each forward call; without a time axis it is the stateless neuron.

    Args:
        max_value (int): D, the largest count per step. Defaults to 4.
        norm (float, optional): divisor of the counts. Defaults to ``max_value``.
        rounding (str): ``'half_even'`` or ``'half_up'`` (:mod:`mmsdt.snn.spike_rule`).
        include_boundary (bool): straight-through gradient also at ``H/θ == 0`` and ``== D``.
        decay (float): β in ``H_t = β V_{t-1} + X_t``; 1 = IF (default), in ``[0, 1)``
            leaky (SpikingJelly's LIF with ``decay_input=False`` has ``β = 1 - 1/tau``).
            0 keeps no state (each step is the stateless neuron on ``X_t / v_threshold``).
        v_threshold (float): θ, the potential one spike stands for (SpikingJelly's name).
            Defaults to 1.
        detach_reset (bool): no gradient through the reset term ``θ S_t`` (default True,
            see the module doc).

    Example:
        >>> from mmsdt.snn.time_axis import time_steps
        >>> neuron = MultiStepIntIF(max_value=4, norm=1)
        >>> with time_steps(3):  # one sample, T = 3, potential 0.3 per step
        ...     neuron(torch.full((3, 1), 0.3)).flatten()
        tensor([0., 1., 0.])
    """

    def __init__(self,
                 max_value: int = 4,
                 norm: Optional[float] = None,
                 rounding: str = 'half_even',
                 include_boundary: bool = True,
                 decay: float = 1.0,
                 v_threshold: float = 1.0,
                 detach_reset: bool = True):
        super().__init__(max_value, norm, rounding, include_boundary)
        if not (0 <= decay <= 1) or not math.isfinite(decay):
            raise ValueError(f'decay (beta) must lie in [0, 1], got {decay!r}')
        if not (v_threshold > 0) or not math.isfinite(v_threshold):
            raise ValueError(f'v_threshold must be positive and finite, got {v_threshold!r}')
        self.decay = float(decay)
        self.v_threshold = float(v_threshold)
        self.detach_reset = bool(detach_reset)

    def _steps(self, x: torch.Tensor) -> int:
        steps = current_time_steps() or 1
        if x.dim() < 1 or x.shape[0] % steps:
            raise ValueError(f'{type(self).__name__}: input of shape {tuple(x.shape)} does not '
                             f'hold T={steps} time steps folded T-major into its first '
                             f'dimension (T * B)')
        return steps

    def _counts(self, x: torch.Tensor, potentials: bool = False,
                v0: Optional[torch.Tensor] = None, final: Optional[list] = None):
        xs = unfold_time(x.detach(), self._steps(x))
        counts, pot = _integrate(xs, self.max_value, self.rounding, self.decay,
                                 self.v_threshold, potentials=potentials, v0=v0, final=final)
        return (pot if potentials else counts).reshape(x.shape)

    def spike_count(self, u: torch.Tensor) -> torch.Tensor:
        """The integer spike counts of the input ``u`` over its time steps (no gradient)."""
        return self._counts(u)

    def rounding_input(self, u: torch.Tensor) -> torch.Tensor:
        """``H_t / v_threshold`` at every step, folded like ``u`` (no gradient)."""
        return self._counts(u, potentials=True)

    def near_rounding_tie(self, u: torch.Tensor, tol: float) -> torch.Tensor:
        """As :meth:`MultiSpike.near_rounding_tie` on ``H_t / θ``; a step near a tie also
        marks the later steps of that element (a flipped count changes their potential)."""
        near = super().near_rounding_tie(u, tol)
        steps = self._steps(u)
        return unfold_time(near, steps).cummax(0).values.reshape(u.shape)

    def after_norm(self, x: torch.Tensor, norm_layer, dtype: Optional[torch.dtype] = None):
        """``self(norm_layer(x))`` (the BN may run as the fused BN kernel; the neuron runs
        eagerly)."""
        if dtype is not None:
            x = x.to(dtype)
        return self(batch_norm(x, norm_layer))

    def forward(self, u: torch.Tensor):
        steps = self._steps(u)
        # a carried membrane (streaming): only where the forward has a time axis
        store = current_stream_state() if current_time_steps() is not None else None
        v0 = final = None
        if store is not None:
            v0 = store.initial(self, torch.Size((u.shape[0] // steps, *u.shape[1:])), u)
            final = []
        if self.spike_driven:
            counts = (self.spike_count(u) if store is None
                      else self._counts(u, v0=v0, final=final))
            out = SpikeTrain.from_counts(counts, self.max_value, self.norm)
        elif torch.is_grad_enabled() and u.requires_grad:
            out = _MultiStepFunction.apply(u, steps, self.max_value, self.norm, self.rounding,
                                           self.include_boundary, self.decay, self.v_threshold,
                                           self.detach_reset, v0, final)
        else:
            out = self._counts(u, v0=v0, final=final)
            if self.norm != 1:
                out = out.div_(self.norm)
        if store is not None:
            store.store(self, final[0])
        if self.spike_driven:
            return out
        if torch.is_grad_enabled():  # a later layer may save it for backward
            register_spike_output(out, self.norm, self.max_value)
        return out

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, decay={self.decay:g}, '
                f'v_threshold={self.v_threshold:g}, detach_reset={self.detach_reset}')


def build_spike_neuron(cfg: Optional[dict] = None) -> MultiSpike:
    """A neuron from a config: ``mode='stateless'`` (default) builds :class:`MultiSpike`,
    ``mode='stateful'`` :class:`MultiStepIntIF`; the other keys are their arguments.

    Raises:
        ValueError: an unknown mode, or stateful-only keys (``decay``, ``v_threshold``,
            ``detach_reset``) for the stateless neuron.
    """
    cfg = dict(cfg or {})
    mode = cfg.pop('mode', 'stateless')
    if mode not in NEURON_MODES:
        raise ValueError(f'neuron mode must be one of {NEURON_MODES}, got {mode!r}')
    if mode == 'stateful':
        return MultiStepIntIF(**cfg)
    extra = sorted(set(cfg) & set(STATEFUL_KEYS))
    if extra:
        raise ValueError(f'{extra} only apply to the stateful neuron (mode="stateful")')
    return MultiSpike(**cfg)
