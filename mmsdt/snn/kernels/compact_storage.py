"""Keep spike tensors saved for backward as uint8 spike counts instead of floats.

A spike tensor ``s / norm`` holds at most ``D + 1`` distinct values, yet every layer that
consumes it saves a float copy for its backward pass. Inside :func:`compact_spike_storage`,
each MultiSpike output produced with gradients enabled is registered, and autograd's
saved-tensor hooks store any saved tensor that *is* (a view of) a registered spike output as
``uint8`` counts (4x smaller for fp32), restoring ``counts / norm`` exactly on backward.
Registration holds only weak references to the spikes, so a freed tensor can never be mistaken
for a spike. When the fused kernels (:mod:`~mmsdt.snn.kernels.fused_bn_spike`) made the
spikes, their one-byte code (which the neuron keeps for its own backward anyway) is saved
instead of a new uint8 copy.
"""
import contextlib
import threading
import weakref
from typing import Optional

import torch

from .fused_bn_spike import codes_to_spikes

_state = threading.local()


def _registry():
    return getattr(_state, 'registry', None)


def register_spike_output(tensor: torch.Tensor, norm: float, max_value: int,
                          code: Optional[torch.Tensor] = None) -> None:
    """Called by MultiSpike for outputs made with gradients enabled.

    ``code``: the fused kernels' one-byte code of ``tensor`` (same shape and strides, count in
    bits 0-6, see :mod:`mmsdt.snn.kernels.fused_bn_spike`); saved in place of the spikes when given.
    """
    registry = _registry()
    if registry is None or max_value > 255:
        return
    if code is not None and (code.shape != tensor.shape or code.stride() != tensor.stride()
                             or tensor.storage_offset() or code.storage_offset()):
        code = None
    # the code is held strongly: the neuron saves it for backward anyway
    registry[tensor.untyped_storage().data_ptr()] = (weakref.ref(tensor), norm, code)


def _pack(t: torch.Tensor):
    registry = _registry()
    if registry is not None and t.is_floating_point():
        entry = registry.get(t.untyped_storage().data_ptr())
        if entry is not None:
            owner, norm, code = entry
            alive = owner()
            if alive is not None and alive.untyped_storage().data_ptr() == \
                    t.untyped_storage().data_ptr():
                if code is not None and t.dtype == alive.dtype:
                    # the same view of the code as ``t`` is of the spikes (same strides)
                    return ('code', code.as_strided(t.shape, t.stride(), t.storage_offset()),
                            norm, t.dtype)
                return ('spike', torch.round(t.detach() * norm).to(torch.uint8), norm, t.dtype)
    return t


def _unpack(packed):
    if isinstance(packed, tuple) and packed and packed[0] == 'spike':
        _, counts, norm, dtype = packed
        return counts.to(dtype) / norm
    if isinstance(packed, tuple) and packed and packed[0] == 'code':
        _, code, norm, dtype = packed
        return codes_to_spikes(code, norm, dtype)
    return packed


@contextlib.contextmanager
def compact_spike_storage():
    """Store saved spike tensors as uint8 counts during the enclosed forward pass.

    Gradients equal those without it (counts/norm is exact in every float dtype for D <= 255);
    peak training memory drops by about a third for E-SpikeFormer. Re-entrant.
    """
    if _registry() is not None:  # already active (nested modules)
        yield
        return
    _state.registry = {}
    try:
        with torch.autograd.graph.saved_tensors_hooks(_pack, _unpack):
            yield
    finally:
        _state.registry = None
