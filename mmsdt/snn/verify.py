"""Check that spike-driven execution computes what integer mode computes.

Float sums in a different order (per binary map, then accumulated) differ from the integer
path by ~1e-7 relative. A membrane potential that lies that close to a rounding tie
(``k + 0.5``) can then be rounded the other way, and because spike-driven attention sums over
all tokens, one flipped count can spread through the rest of a deep network. A free-running
comparison therefore proves little on large inputs. :func:`verify_spike_driven` runs the
spike-driven pass in lock-step: every neuron computes its membrane potential from binary spike
maps, the potential is compared with the integer-mode one, and the neuron then emits the
integer-mode count as binary maps, so each layer is checked on identical inputs.
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import torch
from torch import nn

from .neuron import MultiSpike
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
        maps: binary spike maps the neurons emitted in spike-driven mode.
        binary_maps: of those, maps whose every value is 0 or 1 (must equal ``maps``).
    """
    output_deviation: float = 0.0
    potential_deviation: Dict[str, float] = field(default_factory=dict)
    tie_flips: Dict[str, int] = field(default_factory=dict)
    elements: Dict[str, int] = field(default_factory=dict)
    untied_flips: int = 0
    maps: int = 0
    binary_maps: int = 0

    @property
    def max_potential_deviation(self) -> float:
        return max(self.potential_deviation.values(), default=0.0)

    @property
    def total_tie_flips(self) -> int:
        return sum(self.tie_flips.values())

    def ok(self, rtol: float = 1e-4) -> bool:
        return (self.output_deviation <= rtol and self.max_potential_deviation <= rtol
                and self.untied_flips == 0 and self.binary_maps == self.maps)


def _flatten(out) -> Tuple[torch.Tensor, ...]:
    if isinstance(out, torch.Tensor):
        return (out, )
    return tuple(t for o in out for t in _flatten(o))


@torch.no_grad()
def verify_spike_driven(model: nn.Module, *inputs, tie_tol: float = 1e-4) -> SpikeDrivenReport:
    """Run ``model(*inputs)`` in integer mode and in lock-step spike-driven mode.

    The model should be in eval mode (BN with running statistics).
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
            report.maps += output.num_maps
            report.binary_maps += int(((output.maps == 0) | (output.maps == 1)).flatten(1)
                                      .all(1).sum())
            c_int, c_sd = module.spike_count(u_int), output.counts()
            flips = c_int != c_sd
            report.tie_flips[name] = report.tie_flips.get(name, 0) + int(flips.sum())
            report.elements[name] = report.elements.get(name, 0) + c_int.numel()
            if bool(flips.any()):
                u = u_int[flips]
                near_tie = ((u - u.floor() - 0.5).abs() <= tie_tol * scale) | \
                    (u.abs() <= tie_tol * scale) | ((u - module.max_value).abs() <= tie_tol * scale)
                report.untied_flips += int((~near_tie).sum())
            return SpikeTrain.from_counts(c_int, module.max_value, module.norm)

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in neurons]
    try:
        ref_out = _flatten(model(*inputs))
    finally:
        for h in handles:
            h.remove()
    calls.clear()
    handles = [m.register_forward_hook(lockstep(n)) for n, m in neurons]
    try:
        with spike_driven(model):
            sd_out = _flatten(model(*inputs))
    finally:
        for h in handles:
            h.remove()
    report.output_deviation = max(
        float((a - b).abs().max()) / max(float(a.abs().max()), 1e-12)
        for a, b in zip(ref_out, sd_out))
    return report
