"""Per-neuron spike statistics, recorded by an observer (:mod:`mmsdt.snn.observe`).

With a time axis a neuron's output holds all T time steps (folded into the batch,
:mod:`mmsdt.snn.time_axis`): counts and elements are summed over them, so ``E[s]`` is the mean
per element and time step, and the spikes of one sample are summed over its T steps."""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from .neuron import MultiSpike
from .observe import SpikeObserver, emitted_counts
from .time_axis import current_time_steps


@dataclass
class NeuronStats:
    """Running totals of one neuron over all recorded forward calls.

    Attributes:
        max_value: D of the neuron.
        calls: forward calls recorded.
        elements: output elements seen (sum over calls).
        spikes: total integer spike count (sum of ``s``).
        nonzero: elements with ``s > 0``.
        shape: output shape of the last call (with a time axis: folded, T * B first).
        time_steps: the largest T of the recorded calls (1: no time axis).
    """
    max_value: int
    calls: int = 0
    elements: int = 0
    spikes: float = 0.0
    nonzero: int = 0
    shape: Tuple[int, ...] = field(default_factory=tuple)
    time_steps: int = 1

    def add(self, counts: torch.Tensor, time_steps: int = 1) -> None:
        """Add one forward call's integer counts (of ``time_steps`` folded time steps)."""
        self.calls += 1
        self.elements += counts.numel()
        self.spikes += float(counts.sum())
        self.nonzero += int((counts > 0).sum())
        self.shape = tuple(counts.shape)
        self.time_steps = max(self.time_steps, int(time_steps))

    def merge(self, other: 'NeuronStats') -> None:
        """Add ``other``'s totals (its ``shape`` becomes the last shape)."""
        self.calls += other.calls
        self.elements += other.elements
        self.spikes += other.spikes
        self.nonzero += other.nonzero
        self.shape = other.shape
        self.time_steps = max(self.time_steps, other.time_steps)

    @property
    def mean_count(self) -> float:
        """Mean integer spike count per element, E[s]."""
        return self.spikes / max(self.elements, 1)

    @property
    def firing_rate(self) -> float:
        """E[s] / D: the fraction of the D virtual steps that carry a spike."""
        return self.mean_count / self.max_value

    @property
    def nonzero_rate(self) -> float:
        """P(s > 0). Not a firing rate for multi-valued spikes; reported for comparison."""
        return self.nonzero / max(self.elements, 1)


class SpikeRecorder(SpikeObserver):
    """Record integer spike counts of every :class:`MultiSpike` in a model.

    A :class:`~mmsdt.snn.SpikeObserver`, registered in the constructing thread from
    construction to :meth:`close`. Works in integer and spike-driven mode alike. Use as a
    context manager or call :meth:`close`; hooks never outlive the recorder.

    Args:
        model: the module to watch.
        prefix: only neurons whose qualified name starts with this are recorded.

    Example:
        >>> with SpikeRecorder(backbone) as rec:
        ...     backbone(images)
        >>> rec.stats['block3.0.attn.input_spike'].firing_rate
    """

    def __init__(self, model: nn.Module, prefix: str = ''):
        super().__init__()
        self.stats: Dict[str, NeuronStats] = OrderedDict()
        watched = self.watch_neurons(
            model, lambda name, m: isinstance(m, MultiSpike) and name.startswith(prefix))
        if not watched:
            raise ValueError(f'no MultiSpike neuron found in {type(model).__name__} '
                             f'(prefix={prefix!r})')
        self._names = {id(m): name for name, m in watched}
        for name, module in watched:
            self.stats[name] = NeuronStats(max_value=module.max_value)
        self.start()

    def on_spike(self, neuron: nn.Module, output) -> None:
        """Add the integer counts of ``output`` to the neuron's totals."""
        with torch.no_grad():
            self.stats[self._names[id(neuron)]].add(emitted_counts(neuron, output),
                                                    current_time_steps() or 1)

    def reset(self) -> None:
        """Zero every total (hooks stay)."""
        for name, st in self.stats.items():
            self.stats[name] = NeuronStats(max_value=st.max_value)

    def grouped(self, depth: Optional[int] = 1) -> Dict[str, NeuronStats]:
        """Totals summed over neurons sharing the first ``depth`` name components."""
        out: Dict[str, NeuronStats] = OrderedDict()
        for name, st in self.stats.items():
            key = '.'.join(name.split('.')[:depth])
            out.setdefault(key, NeuronStats(max_value=st.max_value)).merge(st)
        return out
