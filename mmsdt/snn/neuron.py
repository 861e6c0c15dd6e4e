"""The SFA integer spiking neuron (``MultiSpike``) used by every mmsdt model.

The neuron is stateless: for a membrane potential ``u`` it emits the integer spike count
``s = round(clamp(u, 0, D))`` and passes ``s / norm`` to the next layer. ``D`` (``max_value``)
is the largest number of spikes one neuron may fire for one input; ``norm`` defaults to ``D``.
The word *T* is reserved for real time steps and never used here.

Training and evaluation run the same forward code. The backward pass is a straight-through
estimator: ``dL/du = dL/dy / norm`` inside ``[0, D]`` and zero outside; only a bit-packed mask
(one bit per element) is kept for it, never the float input.
"""
import sys
from typing import Optional

import torch
from torch import nn

from .compact import register_spike_output
from .fused import can_fuse, can_fuse_norm, fused_bn_spike, fused_spike
from .spike_train import SpikeTrain

ROUNDING_MODES = ('half_even', 'half_up')


def quantize_spike_count(u: torch.Tensor, max_value: int, rounding: str) -> torch.Tensor:
    """Integer spike count ``round(clamp(u, 0, max_value))`` in the dtype of ``u``.

    Args:
        u: membrane potential, any shape and floating dtype.
        max_value: D, the largest spike count.
        rounding: ``'half_even'`` (``torch.round``; 0.5 -> 0, 2.5 -> 2, what the released
            Base/detection/segmentation checkpoints were trained with) or ``'half_up'``
            (``floor(u + 0.5)``; 0.5 -> 1, the upstream Large models).
    """
    return _round_counts(u.clamp(0, max_value), rounding)


def _round_counts(clamped: torch.Tensor, rounding: str) -> torch.Tensor:
    if rounding == 'half_even':
        return torch.round(clamped)
    return torch.floor(clamped + 0.5)


# Bit packing with 64-bit word arithmetic: 8 mask bytes (0/1) are one little-endian int64
# word; multiplying by _PACK moves the 0/1 of byte i to bit 56 + i (no carries), and
# spreading a byte over 8 bytes (x _SPREAD) then selecting bit i of byte i (& _SELECT)
# inverts it. Pack + unpack of a 4x96x128x128 mask: 26 ms, vs 47 ms with a per-element
# weighted sum (_pack_reference, used on big-endian machines; 2 cores).
_PACK = 0x0102040810204080
_SPREAD = 0x0101010101010101
_SELECT = 0x8040201008040201 - (1 << 64)  # as a signed int64
_LITTLE_ENDIAN = sys.byteorder == 'little'
_BIT_WEIGHTS = (1, 2, 4, 8, 16, 32, 64, 128)


def _pack_reference(flat: torch.Tensor) -> torch.Tensor:
    """Per-element weighted sum (any byte order); ``flat`` is a 1-D bool tensor, len % 8 == 0."""
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=flat.device)
    return (flat.view(-1, 8).to(torch.uint8) * weights).sum(1, dtype=torch.uint8)


def _unpack_reference(packed: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=packed.device)
    return ((packed.unsqueeze(1) & weights) != 0).reshape(-1)


def pack_mask(mask: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor into uint8 bytes, 8 elements per byte (element i of each group of
    8 is bit i; row-major order)."""
    flat = mask.reshape(-1)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    if not _LITTLE_ENDIAN:
        return _pack_reference(flat)
    if flat.storage_offset() % 8:  # int64 views need 8-byte aligned storage
        flat = flat.clone()
    words = flat.view(torch.uint8).view(torch.int64)
    return ((words * _PACK) >> 56).to(torch.uint8)


def unpack_mask(packed: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Inverse of :func:`pack_mask`: a bool tensor of ``shape``."""
    if not _LITTLE_ENDIAN:
        return _unpack_reference(packed)[:shape.numel()].view(shape)
    bytes_ = ((packed.to(torch.int64) * _SPREAD) & _SELECT).view(torch.uint8)
    return (bytes_[:shape.numel()] != 0).view(shape)


# Straight-through masks of fewer elements than this are saved as bool tensors: packing and
# unpacking cost more than they save there (toy detector: ~35 % of the neuron's eager time at
# 4x96x24x24); larger masks are saved as bits (8x smaller).
MIN_PACKED_MASK_NUMEL = 1 << 18


class _MultiSpikeFunction(torch.autograd.Function):
    """Forward: quantised, normalised spike count. Backward: clipped straight-through."""

    @staticmethod
    def forward(ctx, u, max_value, norm, rounding, include_boundary):
        clamped = u.clamp(0, max_value)
        if include_boundary:
            mask = clamped == u  # u in [0, D] (False for NaN)
        else:
            mask = (u > 0) & (u < max_value)
        # One bit per element instead of the float input (32x smaller for fp32).
        ctx.save_for_backward(pack_mask(mask) if mask.numel() >= MIN_PACKED_MASK_NUMEL
                              else mask)
        ctx.shape = u.shape
        ctx.norm = norm
        out = _round_counts(clamped, rounding)
        return out if norm == 1 else out.div_(norm)

    @staticmethod
    def backward(ctx, grad_out):
        (saved, ) = ctx.saved_tensors
        mask = saved if saved.dtype == torch.bool else unpack_mask(saved, ctx.shape)
        grad = grad_out.mul(mask)
        return grad if ctx.norm == 1 else grad.div_(ctx.norm), None, None, None, None


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
        if rounding not in ROUNDING_MODES:
            raise ValueError(f'rounding must be one of {ROUNDING_MODES}, got {rounding!r}')
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
        (:mod:`mmsdt.snn.fused`; same values, one memory pass instead of about ten); otherwise
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
            out = u.clamp(0, self.max_value)
            out = out.round_() if self.rounding == 'half_even' else out.add_(0.5).floor_()
            if self.norm != 1:
                out = out.div_(self.norm)
        if torch.is_grad_enabled():  # a later layer may save it for backward
            register_spike_output(out, self.norm, self.max_value)
        return out

    def extra_repr(self) -> str:
        return (f'max_value={self.max_value}, norm={self.norm:g}, rounding={self.rounding}, '
                f'include_boundary={self.include_boundary}')
