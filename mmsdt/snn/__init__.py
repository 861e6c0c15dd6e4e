"""Pure-torch spiking primitives: the neuron, spiking layers, spike-driven execution, spike
recording.

Nothing here imports an OpenMMLab package.
"""
from .energy import (ENERGY_PRESETS, EnergyReport, LayerOps, MemoryCost, SynapticOpCounter,
                     module_group)
from .fold import fold_bn
from .kernels import compact_spike_storage, use_fused_kernels
from .layers import (SpikeConv2d, SpikeConvTranspose2d, SpikeLinear, as_spiking,
                     integer_spike_cfg)
from .multistep_neuron import NEURON_MODES, MultiStepIntIF, build_spike_neuron
from .neuron import MultiSpike, quantize_spike_count
from .observe import (HookSet, SpikeObserver, SpikeSource, active_observers, emitted_counts,
                      is_spiking_neuron, observing, spike_counts, spike_source)
from .recorder import NeuronStats, SpikeRecorder
from .spike_driven import spike_driven, spike_layout, spike_linear, spike_matmul, spiking_neurons
from .spike_train import SpikeOrTensor, SpikeTrain
from .stream_state import StreamState, carrying, current_stream_state
from .time_axis import current_time_steps, fold_time, mean_over_time, time_steps, unfold_time
from .verify import SpikeDrivenReport, verify_spike_driven

__all__ = [
    'MultiSpike', 'MultiStepIntIF', 'build_spike_neuron', 'NEURON_MODES', 'time_steps',
    'current_time_steps', 'fold_time', 'unfold_time', 'mean_over_time', 'quantize_spike_count',
    'compact_spike_storage', 'SpikeTrain', 'SpikeOrTensor',
    'SpikeConv2d', 'SpikeLinear', 'SpikeConvTranspose2d', 'as_spiking', 'integer_spike_cfg',
    'spike_driven', 'spike_linear', 'spike_matmul', 'spike_layout', 'spiking_neurons',
    'SpikeRecorder', 'NeuronStats', 'verify_spike_driven', 'SpikeDrivenReport',
    'SynapticOpCounter', 'EnergyReport', 'LayerOps', 'MemoryCost', 'ENERGY_PRESETS', 'module_group',
    'fold_bn', 'use_fused_kernels', 'SpikeObserver', 'HookSet', 'observing', 'active_observers',
    'spike_source', 'SpikeSource', 'spike_counts', 'emitted_counts', 'is_spiking_neuron',
    'StreamState', 'carrying', 'current_stream_state'
]
