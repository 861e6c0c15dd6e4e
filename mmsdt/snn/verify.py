"""Check that spike-driven execution computes what integer mode computes.

Float sums in a different order (per binary map, then accumulated) differ from the integer
path by ~1e-7 relative. A membrane potential that lies that close to a rounding tie
(``k + 0.5``) can then be rounded the other way, and because spike-driven attention sums over
all tokens, one flipped count can spread through the rest of a deep network. A free-running
comparison therefore proves little on large inputs.

A model with a time axis is checked the same way: each neuron call holds all T time steps
(folded into the batch), a stateful neuron integrates them in both modes, and a rounding tie
at one step of a stateful neuron also excuses a flip at the later steps of that element
(:meth:`~mmsdt.snn.MultiSpike.near_rounding_tie`). :func:`verify_spike_driven` runs the
spike-driven pass in lock-step: every neuron computes its membrane potential from binary spike
maps, the potential is compared with the integer-mode one, and the neuron then emits the
integer-mode count as binary maps, so each layer is checked on identical inputs.

What the spike-fed layers consume is measured at :func:`~mmsdt.snn.spike_linear` /
:func:`~mmsdt.snn.spike_matmul` by an observer (:mod:`mmsdt.snn.observe`): every operand that
was a spike tensor in integer mode must arrive in spike-driven mode as binary maps; a plain
tensor holding other values than 0 / 1 there means that layer multiplied, and fails the check.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import torch
from torch import nn

from .neuron import MultiSpike
from .observe import HookSet, SpikeObserver, spike_source
from .spike_driven import spike_driven
from .spike_train import SpikeTrain


@dataclass
class SpikeDrivenReport:
    """Result of :func:`verify_spike_driven`.

    Attributes:
        output_deviation: max |spike-driven - integer| / max |integer| over all outputs.
        potential_deviation: per neuron, max |u_spike - u_int| / max(|u_int|, 1).
        tie_flips: per neuron, elements whose rounding differs between the modes.
        elements: per neuron, elements checked.
        untied_flips: flips whose integer-mode potential was not within ``tie_tol`` of a
            rounding tie or a clamp bound: real disagreements (must be 0).
        spike_inputs: operands of spike-fed layers (spike_linear inputs, spike_matmul
            operands) that were spike tensors in integer mode, counted in spike-driven mode.
        binary_inputs: of those, operands that arrived as a SpikeTrain of 0/1 maps (must equal
            ``spike_inputs``).
        maps: binary maps the spike-fed layers consumed (sum over their SpikeTrain inputs).
        binary_maps: of those, maps whose every value is 0 or 1 (must equal ``maps``).
        non_binary_inputs: per consuming layer (``matmul``: ``<module>.matmul<i>``), operands
            that should have been spikes but arrived as a plain tensor with values other than
            0 / 1 (must be empty).
    """
    output_deviation: float = 0.0
    potential_deviation: Dict[str, float] = field(default_factory=dict)
    tie_flips: Dict[str, int] = field(default_factory=dict)
    elements: Dict[str, int] = field(default_factory=dict)
    untied_flips: int = 0
    spike_inputs: int = 0
    binary_inputs: int = 0
    maps: int = 0
    binary_maps: int = 0
    non_binary_inputs: Dict[str, int] = field(default_factory=dict)

    @property
    def max_potential_deviation(self) -> float:
        return max(self.potential_deviation.values(), default=0.0)

    @property
    def total_tie_flips(self) -> int:
        return sum(self.tie_flips.values())

    def ok(self, rtol: float = 1e-4) -> bool:
        """Outputs and potentials within ``rtol``, no untied flip, and every spike operand
        consumed as binary maps (at least one: a model whose layers consume no spikes proves
        nothing)."""
        return (self.output_deviation <= rtol and self.max_potential_deviation <= rtol
                and self.untied_flips == 0 and self.spike_inputs > 0
                and self.binary_inputs == self.spike_inputs and self.binary_maps == self.maps
                and not self.non_binary_inputs)


def _flatten(out) -> Tuple[torch.Tensor, ...]:
    if isinstance(out, torch.Tensor):
        return (out, )
    if isinstance(out, SpikeTrain):  # a model that ends in a neuron: its values
        return (out.counts() / out.norm, )
    return tuple(t for o in out for t in _flatten(o))


def _is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


class _ConsumedSpikes(SpikeObserver):
    """What the spike consumers received: in integer mode, which operands (by call order) were
    spike tensors; in spike-driven mode, whether those arrived as binary maps."""

    def __init__(self, model: nn.Module, report: SpikeDrivenReport):
        super().__init__()
        self.report = report
        self.track_modules(model)
        self.expected: List[bool] = []  # per operand, in call order: spikes in integer mode?
        self.names: List[str] = []
        self.driven = False
        self._position = 0

    def _operand(self, name: str, x) -> None:
        if not self.driven:
            self.expected.append(spike_source(x) is not None)
            self.names.append(name)
            return
        i, self._position = self._position, self._position + 1
        if i >= len(self.expected) or not self.expected[i]:
            return
        rep = self.report
        rep.spike_inputs += 1
        if isinstance(x, SpikeTrain):
            binary = ((x.maps == 0) | (x.maps == 1)).flatten(1).all(1)
            rep.maps += x.num_maps
            rep.binary_maps += int(binary.sum())
            rep.binary_inputs += int(bool(binary.all()))
        elif _is_binary(x):
            rep.binary_inputs += 1  # a plain 0/1 tensor: still additions only
        else:
            rep.non_binary_inputs[name] = rep.non_binary_inputs.get(name, 0) + 1

    def on_linear(self, layer, x, will_call_module) -> None:
        self._operand(self.module_name(layer), x)

    def on_matmul(self, a, b) -> None:
        name = self.matmul_name()
        self._operand(name, a)
        self._operand(name, b)


@torch.no_grad()
def verify_spike_driven(model: nn.Module, *inputs, tie_tol: float = 1e-4) -> SpikeDrivenReport:
    """Run ``model(*inputs)`` in integer mode and in lock-step spike-driven mode.

    The model should be in eval mode (BN with running statistics). Inputs with a time axis
    (e.g. frames ``(B, T, C, H, W)`` of :class:`~mmsdt.models.ESpikeFormer`) need nothing
    else: the model sets T for its neurons.
    """
    neurons = [(n, m) for n, m in model.named_modules() if isinstance(m, MultiSpike)]
    if not neurons:
        raise ValueError(f'{type(model).__name__} contains no MultiSpike neuron')
    reference: Dict[Tuple[str, int], torch.Tensor] = {}
    calls: Dict[str, int] = {}
    report = SpikeDrivenReport()

    def record(name):

        def hook(module, args, output):
            k = calls[name] = calls.get(name, 0) + 1
            reference[(name, k)] = args[0].detach().clone()

        return hook

    def lockstep(name):

        def hook(module, args, output):
            k = calls[name] = calls.get(name, 0) + 1
            u_int, u_sd = reference[(name, k)], args[0]
            scale = max(float(u_int.abs().max()), 1.0)
            dev = float((u_sd - u_int).abs().max()) / scale
            report.potential_deviation[name] = max(report.potential_deviation.get(name, 0.), dev)
            c_int, c_sd = module.spike_count(u_int), output.counts()
            flips = c_int != c_sd
            report.tie_flips[name] = report.tie_flips.get(name, 0) + int(flips.sum())
            report.elements[name] = report.elements.get(name, 0) + c_int.numel()
            if bool(flips.any()):
                near_tie = module.near_rounding_tie(u_int, tie_tol * scale)[flips]
                report.untied_flips += int((~near_tie).sum())
            return SpikeTrain.from_counts(c_int, module.max_value, module.norm)

        return hook

    with _ConsumedSpikes(model, report) as consumed:
        consumed.watch_neurons(model)  # integer-mode spikes enter the registry
        with HookSet() as hooks:
            for n, m in neurons:
                hooks.add_forward_hook(m, record(n))
            ref_out = _flatten(model(*inputs))
        calls.clear()
        consumed.driven = True
        with HookSet() as hooks:
            for n, m in neurons:
                hooks.add_forward_hook(m, lockstep(n))
            with spike_driven(model):
                sd_out = _flatten(model(*inputs))
    report.output_deviation = max(
        float((a - b).abs().max()) / max(float(a.abs().max()), 1e-12)
        for a, b in zip(ref_out, sd_out))
    return report
