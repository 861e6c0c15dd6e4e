"""Per-neuron spike statistics recorded with removable forward hooks."""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from .neuron import MultiSpike
from .spike_train import SpikeTrain


@dataclass
class NeuronStats:
    """Running totals of one neuron over all recorded forward calls.

    Attributes:
        max_value: D of the neuron.
        calls: forward calls recorded.
        elements: output elements seen (sum over calls).
        spikes: total integer spike count (sum of ``s``).
        nonzero: elements with ``s > 0``.
        shape: output shape of the last call.
    """
    max_value: int
    calls: int = 0
    elements: int = 0
    spikes: float = 0.0
    nonzero: int = 0
    shape: Tuple[int, ...] = field(default_factory=tuple)

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


class SpikeRecorder:
    """Record integer spike counts of every :class:`MultiSpike` in a model.

    Works in integer and spike-driven mode alike. Use as a context manager or call
    :meth:`close`; hooks never outlive the recorder.

    Args:
        model: the module to watch.
        prefix: only neurons whose qualified name starts with this are recorded.

    Example:
        >>> with SpikeRecorder(backbone) as rec:
        ...     backbone(images)
        >>> rec.stats['block3.0.attn.input_spike'].firing_rate
    """

    def __init__(self, model: nn.Module, prefix: str = ''):
        self.stats: Dict[str, NeuronStats] = OrderedDict()
        self._handles = []
        for name, module in model.named_modules():
            if isinstance(module, MultiSpike) and name.startswith(prefix):
                self.stats[name] = NeuronStats(max_value=module.max_value)
                self._handles.append(module.register_forward_hook(self._hook(name)))
        if not self._handles:
            raise ValueError(f'no MultiSpike neuron found in {type(model).__name__} '
                             f'(prefix={prefix!r})')

    def _hook(self, name: str):

        def record(module: MultiSpike, inputs, output) -> None:
            with torch.no_grad():
                if isinstance(output, SpikeTrain):
                    counts = output.counts()
                else:
                    counts = torch.round(output * module.norm)
                st = self.stats[name]
                st.calls += 1
                st.elements += counts.numel()
                st.spikes += float(counts.sum())
                st.nonzero += int((counts > 0).sum())
                st.shape = tuple(counts.shape)

        return record

    def reset(self) -> None:
        """Zero every total (hooks stay)."""
        for name, st in self.stats.items():
            self.stats[name] = NeuronStats(max_value=st.max_value)

    def close(self) -> None:
        """Remove every hook."""
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def __enter__(self) -> 'SpikeRecorder':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def grouped(self, depth: Optional[int] = 1) -> Dict[str, NeuronStats]:
        """Totals summed over neurons sharing the first ``depth`` name components."""
        out: Dict[str, NeuronStats] = OrderedDict()
        for name, st in self.stats.items():
            key = '.'.join(name.split('.')[:depth])
            agg = out.setdefault(key, NeuronStats(max_value=st.max_value))
            agg.calls += st.calls
            agg.elements += st.elements
            agg.spikes += st.spikes
            agg.nonzero += st.nonzero
            agg.shape = st.shape
        return out
