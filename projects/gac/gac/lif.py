"""Multi-step leaky integrate-and-fire neuron of the GAC code, with its two parameterisations.

Layout: time first, ``[T, B, ...]``. Update (both official variants reduce to it with
``u_0 = 0``)::

    u_t = decay * u_{t-1} * (1 - s_{t-1}) + x_t        (hard reset to 0 after a spike)
    s_t = H(u_t - v_threshold)                          (strictly greater)

The reset spike is detached or not (``detach_reset``). The Heaviside step has a surrogate
gradient: ``'triangle'`` ``(1 / w^2) * max(0, w - |u - V_th|)`` (the CIFAR code's ZIF, w = gamma)
or ``'rectangle'`` ``1 if |u - V_th| < w else 0`` (the ImageNet code's ActFun, height 1, w =
lens). spikingjelly 2.x is not used: its LIF divides the input by tau unless
``decay_input=False`` and its surrogates are parameterised differently (sigmoid / atan families,
a triangle of fixed height), so both presets would need wrappers anyway, and it would be one
more pinned package for ~40 lines.
"""
from typing import Optional, Union

import torch
from torch import nn

LIF_PRESETS = {
    # CIFAR code (models/layers.py, LIFSpike + ZIF): tau 0.5, V_th 1.0, reset not detached
    'cifar': dict(decay=0.5, v_threshold=1.0, detach_reset=False, surrogate='triangle',
                  surrogate_width=1.0),
    # ImageNet code (MS_ResNet.py, mem_update + ActFun): decay 0.25, V_th 0.5, detached reset
    'imagenet': dict(decay=0.25, v_threshold=0.5, detach_reset=True, surrogate='rectangle',
                     surrogate_width=0.5),
}
SURROGATES = ('triangle', 'rectangle')


def surrogate_grad(v: torch.Tensor, surrogate: str, width: float) -> torch.Tensor:
    """d spike / d u at ``v = u - V_th``."""
    if surrogate == 'triangle':
        return (width - v.abs()).clamp_min(0) / width**2
    return (v.abs() < width).to(v.dtype)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward (``v > 0``), surrogate backward."""

    @staticmethod
    def forward(ctx, v, surrogate, width):
        ctx.save_for_backward(v)
        ctx.surrogate, ctx.width = surrogate, width
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v, ) = ctx.saved_tensors
        return grad * surrogate_grad(v, ctx.surrogate, ctx.width), None, None


class MultiStepLIF(nn.Module):
    """Multi-step LIF neuron over the leading time axis ``[T, B, ...]`` (stateless between
    calls: the membrane starts at 0 in every forward).

    Args:
        preset (str, optional): ``'cifar'`` or ``'imagenet'`` (see :data:`LIF_PRESETS`); the
            other arguments override single values.
        decay (float): multiplicative leak per step.
        v_threshold (float): firing threshold.
        detach_reset (bool): no gradient through the reset.
        surrogate (str): ``'triangle'`` or ``'rectangle'``.
        surrogate_width (float): gamma of the triangle / half-width of the rectangle.

    For :class:`mmsdt.snn.SynapticOpCounter` the neuron declares ``emits_spikes`` with
    ``norm = 1`` (its outputs are 0 / 1 counts per time step), so the layers it feeds are billed
    as SOPs over all T steps.
    """
    emits_spikes = True
    norm = 1.0

    def __init__(self, preset: Optional[str] = 'cifar', decay: Optional[float] = None,
                 v_threshold: Optional[float] = None, detach_reset: Optional[bool] = None,
                 surrogate: Optional[str] = None, surrogate_width: Optional[float] = None):
        super().__init__()
        if preset is not None and preset not in LIF_PRESETS:
            raise ValueError(f'unknown LIF preset {preset!r}; valid: {sorted(LIF_PRESETS)}')
        cfg = dict(LIF_PRESETS[preset]) if preset else {}
        given = dict(decay=decay, v_threshold=v_threshold, detach_reset=detach_reset,
                     surrogate=surrogate, surrogate_width=surrogate_width)
        cfg.update({k: v for k, v in given.items() if v is not None})
        missing = [k for k in given if k not in cfg]
        if missing:
            raise ValueError(f'MultiStepLIF without a preset needs {missing}')
        if cfg['surrogate'] not in SURROGATES:
            raise ValueError(f'surrogate must be one of {SURROGATES}, got {cfg["surrogate"]!r}')
        self.decay = float(cfg['decay'])
        self.v_threshold = float(cfg['v_threshold'])
        self.detach_reset = bool(cfg['detach_reset'])
        self.surrogate = cfg['surrogate']
        self.surrogate_width = float(cfg['surrogate_width'])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(f'MultiStepLIF expects [T, B, ...], got shape {tuple(x.shape)}')
        spikes = []
        u = s = None
        for t in range(x.shape[0]):
            if t == 0:
                u = x[0]
            else:
                keep = 1 - (s.detach() if self.detach_reset else s)
                u = self.decay * u * keep + x[t]
            s = _SpikeFunction.apply(u - self.v_threshold, self.surrogate, self.surrogate_width)
            spikes.append(s)
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return (f'decay={self.decay:g}, v_threshold={self.v_threshold:g}, '
                f'detach_reset={self.detach_reset}, surrogate={self.surrogate}'
                f'(width={self.surrogate_width:g})')


def build_lif(neuron: Union[str, dict]) -> MultiStepLIF:
    """A :class:`MultiStepLIF` from a preset name or a dict of its arguments (how configs name
    the neuron of the encoder, the blocks and the head)."""
    return MultiStepLIF(**({'preset': neuron} if isinstance(neuron, str) else neuron))
