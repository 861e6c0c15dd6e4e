"""A spike tensor in spike-driven mode: ``D`` binary maps that stand for integer counts.

:class:`SpikeTrain` is what a :class:`~mmsdt.snn.MultiSpike` emits under
:func:`~mmsdt.snn.spike_driven`; the neuron creates it and the spike consumers
(:func:`~mmsdt.snn.spike_linear`, :func:`~mmsdt.snn.spike_matmul`) read it, so it lives in a
module of its own that both import.
"""
from typing import Callable, Union

import torch


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
