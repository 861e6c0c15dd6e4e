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
are plain calls in integer mode.
"""
import contextlib
from typing import Callable, Iterator, Union

import torch
import torch.nn.functional as F
from torch import nn

from .neuron import MultiSpike


class SpikeTrain:
    """``D`` binary spike maps standing for one integer spike tensor.

    Args:
        maps (Tensor): shape ``(D, *shape)``, values in {0, 1}.
        norm (float): the divisor of the emitting neuron (the consumer folds ``1/norm`` in).
    """

    def __init__(self, maps: torch.Tensor, norm: float):
        self.maps = maps
        self.norm = float(norm)

    @classmethod
    def from_counts(cls, counts: torch.Tensor, max_value: int, norm: float) -> 'SpikeTrain':
        """Expand integer counts (0..max_value) into ``max_value`` binary maps."""
        steps = torch.arange(1, max_value + 1, device=counts.device, dtype=counts.dtype)
        steps = steps.view(-1, *([1] * counts.dim()))
        return cls((counts.unsqueeze(0) >= steps).to(counts.dtype), norm)

    @property
    def num_maps(self) -> int:
        return self.maps.shape[0]

    @property
    def shape(self) -> torch.Size:
        """Shape of one map, i.e. of the integer tensor this train stands for."""
        return self.maps.shape[1:]

    def counts(self) -> torch.Tensor:
        """The integer spike count of every element (sum over the binary maps)."""
        return self.maps.sum(0)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> 'SpikeTrain':
        """Apply a layout-only function (reshape, transpose, ...) to every map."""
        return SpikeTrain(torch.stack([fn(m) for m in self.maps]), self.norm)

    def check_binary(self, consumer: str = 'layer') -> None:
        """Raise if any emitted map holds a value other than 0 or 1."""
        bad = (self.maps != 0) & (self.maps != 1)
        if bool(bad.any()):
            raise RuntimeError(f'{consumer} received a spike map with non-binary values '
                               f'(e.g. {self.maps[bad][:4].tolist()}); spike-driven mode '
                               'requires every map to be 0/1')


SpikeOrTensor = Union[torch.Tensor, SpikeTrain]


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


def spike_linear(layer: nn.Module, x: SpikeOrTensor) -> torch.Tensor:
    """Run a linear layer (conv / Linear) on spikes.

    In integer mode (``x`` a Tensor) this is ``layer(x)``. For a :class:`SpikeTrain` the
    weights are applied to every binary map, the results are summed, ``1/norm`` is folded in
    and the bias is added once.
    """
    if not isinstance(x, SpikeTrain):
        return layer(x)
    x.check_binary(type(layer).__name__)
    per_map = _weights_only(layer, x.maps.flatten(0, 1))
    acc = per_map.unflatten(0, (x.num_maps, -1)).sum(0) / x.norm
    return _add_bias(layer, acc)


def spike_matmul(a: SpikeOrTensor, b: SpikeOrTensor) -> torch.Tensor:
    """``a @ b`` where either operand may be a :class:`SpikeTrain`.

    Spike operands are expanded over their binary maps (all pairs when both are spikes), so
    every product has a 0/1 factor; results are accumulated and the norms folded in.
    """
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
    """Apply a layout-only function to a tensor or to every map of a spike train."""
    return x.apply(fn) if isinstance(x, SpikeTrain) else fn(x)


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
