"""Training kernels of the spiking primitives: how a training step computes, not what.

* :mod:`.fused_bn_spike`: compiled BatchNorm + neuron kernels for CPU training
  (:func:`use_fused_kernels`, environment variable ``MMSDT_FUSED_KERNELS``);
* :mod:`.compact_storage`: spikes saved for backward as one byte per element
  (:func:`compact_spike_storage`);
* :mod:`.bitpack`: the eager neuron's straight-through mask saved as one bit per element.

Each gives the values of the unfused, uncompacted modules (tests compare them in float64);
the neuron's rule itself lives in :mod:`mmsdt.snn.spike_rule`. Nothing here imports the
models or an OpenMMLab package.
"""
from .bitpack import pack_mask, unpack_mask
from .compact_storage import compact_spike_storage
from .fused_bn_spike import batch_norm, compile_failure, kernel_calls, use_fused_kernels

__all__ = [
    'use_fused_kernels', 'batch_norm', 'compile_failure', 'kernel_calls', 'compact_spike_storage',
    'pack_mask', 'unpack_mask'
]
