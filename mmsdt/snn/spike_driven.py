"""Spike-driven execution: integer spike counts replayed as binary spike maps.

Under :func:`spike_driven` every :class:`~mmsdt.snn.MultiSpike` emits its integer count ``s``
as ``D`` binary maps ``b_1..b_D`` (``b_t = 1[s >= t]``, so ``sum_t b_t = s``), packed in a
:class:`SpikeTrain`. The layer that consumes spikes evaluates its weights on every binary map
separately (additions only, since every input is 0 or 1) and accumulates::

    W (s / norm) + bias  ==  (1 / norm) * sum_t W b_t + bias

Products of two spike tensors (the attention ``k^T v`` and ``q (k^T v)``) are expanded over all
pairs of maps. The result equals integer mode up to float summation order; it is how mmsdt shows
the "only additions" claim and counts synaptic operations exactly.

Model code routes every spike consumer through :func:`spike_linear` / :func:`spike_matmul`; both
are plain calls in integer mode. Observers (:mod:`mmsdt.snn.observe`: the operation counter, the
folding tracer, the verification) hear these two calls while registered in the running thread.
"""
import contextlib
from typing import Callable, Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .observe import _state as _observer_state
from .observe import carry_spike_source, notify_linear, notify_matmul
from .neuron import MultiSpike
from .spike_train import SpikeOrTensor, SpikeTrain


def _weights_only(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply ``layer`` without its bias."""
    if isinstance(layer, nn.Linear):
        return F.linear(x, layer.weight)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return layer._conv_forward(x, layer.weight, None)
    if isinstance(layer, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, layer.weight, None, layer.stride, layer.padding,
                                  layer.output_padding, layer.groups, layer.dilation)
    raise TypeError(f'spike-driven mode cannot expand spikes through {type(layer).__name__}; '
                    'supported consumers: Linear, Conv1d/2d/3d, ConvTranspose2d')


def _add_bias(layer: nn.Module, out: torch.Tensor) -> torch.Tensor:
    bias = getattr(layer, 'bias', None)
    if bias is None:
        return out
    if isinstance(layer, nn.Linear):
        return out + bias
    return out + bias.view(1, -1, *([1] * (out.dim() - 2)))


def spike_linear(layer: nn.Module,
                 x: SpikeOrTensor,
                 dense: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
    """Run a linear layer (conv / Linear) on spikes.

    In integer mode (``x`` a Tensor) this is ``dense(x)``. For a :class:`SpikeTrain` the
    weights are applied to every binary map, the results are summed, ``1/norm`` is folded in
    and the bias is added once.

    Args:
        layer: the consumer (Linear, Conv1d/2d/3d or ConvTranspose2d, or a subclass).
        x: spikes, as a Tensor (integer mode) or a :class:`SpikeTrain`.
        dense: the layer's own computation on a Tensor; defaults to ``layer`` itself. A
            spiking layer (:mod:`mmsdt.snn.layers`), whose ``forward`` spikes first, passes
            its parent class's ``forward`` here.
    """
    if _observer_state.observers:
        notify_linear(layer, x, dense is None and not isinstance(x, SpikeTrain))
    if not isinstance(x, SpikeTrain):
        return (layer if dense is None else dense)(x)
    x.check_binary(type(layer).__name__)
    per_map = _weights_only(layer, x.maps.flatten(0, 1))
    acc = per_map.unflatten(0, (x.num_maps, -1)).sum(0) / x.norm
    return _add_bias(layer, acc)


def spike_matmul(a: SpikeOrTensor, b: SpikeOrTensor) -> torch.Tensor:
    """``a @ b`` where either operand may be a :class:`SpikeTrain`.

    Spike operands are expanded over their binary maps (all pairs when both are spikes), so
    every product has a 0/1 factor; results are accumulated and the norms folded in.
    """
    if _observer_state.observers:
        notify_matmul(a, b)
    scale = 1.0
    if isinstance(a, SpikeTrain):
        a.check_binary('matmul')
        scale /= a.norm
        a_maps = a.maps.unsqueeze(1) if isinstance(b, SpikeTrain) else a.maps
    else:
        a_maps = a
    if isinstance(b, SpikeTrain):
        b.check_binary('matmul')
        scale /= b.norm
        b_maps = b.maps.unsqueeze(0) if isinstance(a, SpikeTrain) else b.maps
    else:
        b_maps = b
    out = a_maps @ b_maps
    n_spike_dims = isinstance(a, SpikeTrain) + isinstance(b, SpikeTrain)
    for _ in range(n_spike_dims):
        out = out.sum(0)
    return out * scale


def spike_layout(x: SpikeOrTensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> SpikeOrTensor:
    """Apply a layout-only function to a tensor or to every map of a spike train; the result
    keeps the input's entry in the observers' spike registry (:func:`~mmsdt.snn.spike_source`)."""
    out = x.apply(fn) if isinstance(x, SpikeTrain) else fn(x)
    if _observer_state.spikes:  # still spikes, from the same neuron
        carry_spike_source(x, out)
    return out


def spiking_neurons(model: nn.Module) -> Iterator[MultiSpike]:
    """All :class:`MultiSpike` modules of ``model``."""
    return (m for m in model.modules() if isinstance(m, MultiSpike))


@contextlib.contextmanager
def spike_driven(model: nn.Module):
    """Run ``model`` in spike-driven mode inside the ``with`` block.

    Every MultiSpike of ``model`` emits binary spike maps; every spike consumer evaluates them
    one by one and accumulates. Outputs equal integer mode to float tolerance. The previous
    mode is restored on exit, also after an exception.

    Example:
        >>> with torch.no_grad(), spike_driven(model):
        ...     feats = model(images)
    """
    neurons = list(spiking_neurons(model))
    if not neurons:
        raise ValueError(f'{type(model).__name__} contains no MultiSpike neuron; '
                         'spike-driven mode would change nothing')
    previous = [n.spike_driven for n in neurons]
    try:
        for n in neurons:
            n.spike_driven = True
        yield model
    finally:
        for n, flag in zip(neurons, previous):
            n.spike_driven = flag
