"""The SFA integer spiking neuron (``MultiSpike``) used by every mmsdt model.

The neuron is stateless: for a membrane potential ``u`` it emits the integer spike count
``s = round(clamp(u, 0, D))`` and passes ``s / norm`` to the next layer. ``D`` (``max_value``)
is the largest number of spikes one neuron may fire for one input; ``norm`` defaults to ``D``.
The word *T* is reserved for real time steps and never used here.

Training and evaluation run the same forward code. The backward pass is a straight-through
estimator: ``dL/du = dL/dy / norm`` inside ``[0, D]`` and zero outside; only a bit-packed mask
(one bit per element) is kept for it, never the float input. The rounding and the
straight-through rule live in :mod:`mmsdt.snn.spike_rule`, shared with the compiled training
kernels of :mod:`mmsdt.snn.kernels`.
"""
from typing import Optional

import torch
from torch import nn

from .kernels.bitpack import pack_mask, unpack_mask
from .kernels.compact_storage import register_spike_output
from .kernels.fused_bn_spike import can_fuse, can_fuse_norm, fused_bn_spike, fused_spike
from .spike_rule import (ROUNDING_MODES, check_rounding, quantize_spike_count, round_counts,
                         straight_through_grad, straight_through_mask)
from .spike_train import SpikeTrain

__all__ = ['MultiSpike', 'quantize_spike_count', 'ROUNDING_MODES']


# Straight-through masks of fewer elements than this are saved as bool tensors: packing and
# unpacking cost more than they save there (toy detector: ~35 % of the neuron's eager time at
# 4x96x24x24); larger masks are saved as bits (8x smaller).
MIN_PACKED_MASK_NUMEL = 1 << 18


class _MultiSpikeFunction(torch.autograd.Function):
    """Forward: quantised, normalised spike count. Backward: clipped straight-through."""

    @staticmethod
    def forward(ctx, u, max_value, norm, rounding, include_boundary):
        clamped = u.clamp(0, max_value)
        mask = straight_through_mask(u, clamped, max_value, include_boundary)
        # One bit per element instead of the float input (32x smaller for fp32).
        ctx.save_for_backward(pack_mask(mask) if mask.numel() >= MIN_PACKED_MASK_NUMEL
                              else mask)
        ctx.shape = u.shape
        ctx.norm = norm
        out = round_counts(clamped, rounding)
        return out if norm == 1 else out.div_(norm)

    @staticmethod
    def backward(ctx, grad_out):
        (saved, ) = ctx.saved_tensors
        mask = saved if saved.dtype == torch.bool else unpack_mask(saved, ctx.shape)
        grad = straight_through_grad(grad_out, mask, None if ctx.norm == 1 else ctx.norm)
        return grad, None, None, None, None


class MultiSpike(nn.Module):
    """Stateless integer spiking neuron of SDT-V3 ("SFA" training, spike-driven inference).

    ``forward(u) = round(clamp(u, 0, max_value)) / norm`` in training and evaluation alike.

    Under :func:`mmsdt.snn.spike_driven` the same module instead returns a
    :class:`~mmsdt.snn.SpikeTrain` of ``max_value`` binary maps whose sum is the integer count;
    the layer that consumes it evaluates each map and accumulates (see ``spike_driven``).

    Args:
        max_value (int): D, the largest integer spike count. Defaults to 4.
        norm (float, optional): divisor applied to the count. Defaults to ``max_value``
            (outputs in ``[0, 1]``); ``norm=1`` gives raw integers.
        rounding (str): ``'half_even'`` (default, as the released checkpoints) or
            ``'half_up'``.
        include_boundary (bool): whether the straight-through gradient also flows at
            ``u == 0`` and ``u == D`` (default True, as the Base models).

    Example:
        >>> spike = MultiSpike(max_value=4)
        >>> spike(torch.tensor([-1., 0.4, 0.6, 1.5, 2.5, 3.6, 9.]))
        tensor([0.0000, 0.0000, 0.2500, 0.5000, 0.5000, 1.0000, 1.0000])
    """

    def __init__(self,
                 max_value: int = 4,
                 norm: Optional[float] = None,
                 rounding: str = 'half_even',
                 include_boundary: bool = True):
        super().__init__()
        if int(max_value) != max_value or max_value < 1:
            raise ValueError(f'max_value (D) must be a positive integer, got {max_value!r}')
        check_rounding(rounding)
        norm = float(max_value if norm is None else norm)
        if norm <= 0:
            raise ValueError(f'norm must be positive, got {norm!r}')
        self.max_value = int(max_value)
        self.norm = norm
        self.rounding = rounding
        self.include_boundary = include_boundary
        # Set by ``mmsdt.snn.spike_driven``; never saved in state dicts.
        self.spike_driven = False

    def spike_count(self, u: torch.Tensor) -> torch.Tensor:
        """The integer spike count ``s`` (no normalisation, no gradient)."""
        return quantize_spike_count(u.detach(), self.max_value, self.rounding)

    def rounding_input(self, u: torch.Tensor) -> torch.Tensor:
        """What the rounding is applied to for the input ``u`` (here ``u`` itself; a
        stateful neuron's membrane potential over time). No gradient."""
        return u.detach()

    def near_rounding_tie(self, u: torch.Tensor, tol: float) -> torch.Tensor:
        """Where a float error of ``tol`` in ``u`` could change the count (bool, shape of
        ``u``): the rounding input within ``tol`` of a tie ``k + 0.5`` or of a clamp bound.
        Used by :func:`~mmsdt.snn.verify_spike_driven` to tell rounding flips from faults."""
        r = self.rounding_input(u)
        return ((r - r.floor() - 0.5).abs() <= tol) | (r.abs() <= tol) | \
            ((r - self.max_value).abs() <= tol)

    def _train_dtype(self, u: torch.Tensor, dtype: Optional[torch.dtype]) -> torch.dtype:
        """Dtype of fused training outputs: ``dtype``, else autocast's (every spike feeds a
        linear op that autocast would cast it for; exact, spikes are multiples of 1/norm)."""
        if dtype is not None:
            return dtype
        if torch.is_autocast_enabled(u.device.type):
            return torch.get_autocast_dtype(u.device.type)
        return u.dtype

    def after_norm(self, x: torch.Tensor, norm_layer: nn.Module,
                   dtype: Optional[torch.dtype] = None):
        """``self(norm_layer(x))``: the spikes of a normalised potential.

        In training on CPU a plain BatchNorm and this neuron run as one fused kernel
        (:mod:`mmsdt.snn.kernels.fused_bn_spike`; same values, one memory pass instead of about ten); otherwise
        the two modules are called as usual (hooks, SyncBN, spike-driven mode, GPU).

        Args:
            x: the input of ``norm_layer``.
            norm_layer: the normalisation in front of the neuron.
            dtype: compute BN on ``x`` in this dtype and emit spikes in it (e.g. float32 for a
                consumer that runs outside autocast). Default: autocast's dtype in an autocast
                region (fused path), else ``x``'s.
        """
        if can_fuse_norm(x, norm_layer, self):
            out, code = fused_bn_spike(x, norm_layer, self, self._train_dtype(x, dtype))
            register_spike_output(out, self.norm, self.max_value, code)
            return out
        if dtype is not None:
            x = x.to(dtype)
        return self(norm_layer(x))

    def forward(self, u: torch.Tensor):
        if self.spike_driven:
            return SpikeTrain.from_counts(self.spike_count(u), self.max_value, self.norm)
        if can_fuse(u, self):
            out, code = fused_spike(u, self, self._train_dtype(u, None))
            register_spike_output(out, self.norm, self.max_value, code)
            return out
        if torch.is_grad_enabled() and u.requires_grad:
            out = _MultiSpikeFunction.apply(u, self.max_value, self.norm, self.rounding,
                                            self.include_boundary)
        else:  # nothing to differentiate: the same clamp / round / divide, without the mask
            out = round_counts(u.clamp(0, self.max_value), self.rounding, inplace=True)
            if self.norm != 1:
                out = out.div_(self.norm)
        if torch.is_grad_enabled():  # a later layer may save it for backward
            register_spike_output(out, self.norm, self.max_value)
        return out

    def extra_repr(self) -> str:
        return (f'max_value={self.max_value}, norm={self.norm:g}, rounding={self.rounding}, '
                f'include_boundary={self.include_boundary}')
