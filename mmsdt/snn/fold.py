"""Deployment folding: BatchNorm into the preceding conv / linear, 1/norm into the next weights.

Both foldings are found by running the model once on example inputs under an observer
(:mod:`mmsdt.snn.observe`; no architecture-specific table): a BatchNorm is folded when its
input is exactly the output of a conv / linear layer; a neuron's ``1 / norm`` is folded when
every consumer of its spikes is a conv / linear layer fed by that neuron only (the layer's
weights are divided by ``norm`` and the neuron then emits raw integer counts), and modules with a ``fold_spike_norms()`` method
(the spike-driven attention) fold the norms of the spikes they multiply together. The result
computes the same function; the spike counts are the same integers.
"""
from collections import defaultdict
from typing import Dict, List, Optional, Set, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .neuron import MultiSpike
from .observe import SpikeObserver, spike_source

_FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _parent(model: nn.Module, name: str) -> Tuple[nn.Module, str]:
    parent_name, _, attr = name.rpartition('.')
    return (model.get_submodule(parent_name) if parent_name else model), attr


class _Tracer(SpikeObserver):
    """One integer-mode forward under observation: conv -> BN pairs and neuron -> consumers."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.layer_outputs: Dict[int, nn.Module] = {}  # id(output tensor) -> layer
        self.bn_inputs: Dict[nn.Module, Set[nn.Module]] = defaultdict(set)  # BN -> producers
        self.consumers: Dict[MultiSpike, Set[Tuple[str, int]]] = defaultdict(set)
        self.feeders: Dict[nn.Module, Set[MultiSpike]] = defaultdict(set)  # layer -> neurons
        self._keep: List[torch.Tensor] = []  # keep layer outputs alive: ids stay unique

    def run(self, *inputs) -> None:
        self.watch_neurons(self.model, lambda name, m: isinstance(m, MultiSpike))
        for m in self.model.modules():
            if isinstance(m, _FOLDABLE):
                self.add_forward_hook(m, self._layer_out)
            elif isinstance(m, _BatchNorm):
                self.add_forward_pre_hook(m, self._bn_in)
        try:
            with self, torch.no_grad():
                self.model(*inputs)
        finally:
            self.close()
            self._keep.clear()

    def _layer_out(self, module, inputs, output) -> None:
        self.layer_outputs[id(output)] = module
        self._keep.append(output)

    def _bn_in(self, module, inputs) -> None:
        self.bn_inputs[module].add(self.layer_outputs.get(id(inputs[0])))

    @staticmethod
    def _source(x) -> Optional[MultiSpike]:
        source = spike_source(x)
        neuron = source.neuron if source is not None else None
        return neuron if isinstance(neuron, MultiSpike) else None

    def on_linear(self, layer, x, will_call_module) -> None:
        neuron = self._source(x)
        if neuron is not None:
            self.consumers[neuron].add(('linear', id(layer)))
            self.feeders[layer].add(neuron)

    def on_matmul(self, a, b) -> None:
        for x in (a, b):
            neuron = self._source(x)
            if neuron is not None:
                self.consumers[neuron].add(('matmul', 0))


def fold_bn_into(layer: nn.Module, bn: _BatchNorm) -> None:
    """``layer`` then ``bn`` (eval statistics) -> ``layer`` alone, in place."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn.affine else \
        1 / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.affine else 0) - bn.running_mean * scale
    w = layer.weight
    layer.weight = nn.Parameter((w * scale.view(-1, *([1] * (w.dim() - 1)))).detach())
    bias = layer.bias if layer.bias is not None else torch.zeros_like(scale)
    layer.bias = nn.Parameter((bias * scale + shift).detach())


@torch.no_grad()
def fold_bn(model: nn.Module, *example_inputs, fold_norms: bool = True) -> Dict[str, int]:
    """Fold, in place, every BatchNorm into the conv / linear layer that feeds it and (with
    ``fold_norms``) every spiking neuron's ``1 / norm`` into the layers its spikes feed.

    The model is put in eval mode (BN running statistics) and run once on
    ``example_inputs`` to find what feeds what; folded BNs are replaced by ``nn.Identity``.
    Outputs equal the unfolded model's up to float rounding, and the neurons emit the same
    integer counts (on inputs whose potentials do not sit on a rounding tie).

    Args:
        model: the model (e.g. an ``ESpikeFormer`` or a whole detector's ``backbone``).
        *example_inputs: arguments of one forward call.
        fold_norms: also fold ``1 / norm`` (neurons then emit integer counts, ``norm=1``).

    Returns:
        dict: ``bn_folded``, ``bn_left`` (BNs not fed directly by one conv / linear layer),
        ``norms_folded`` (neurons now emitting raw counts).
    """
    model.eval()
    tracer = _Tracer(model)
    tracer.run(*example_inputs)
    names = {m: n for n, m in model.named_modules()}
    folded = left = 0
    for bn, producers in tracer.bn_inputs.items():
        layer = next(iter(producers)) if len(producers) == 1 else None
        if layer is None or not isinstance(layer, _FOLDABLE) or \
                layer.weight.shape[0] != bn.num_features:
            left += 1
            continue
        fold_bn_into(layer, bn)
        parent, attr = _parent(model, names[bn])
        setattr(parent, attr, nn.Identity())
        folded += 1
    norms = 0
    if fold_norms:
        layers = {id(m): m for m in model.modules() if isinstance(m, _FOLDABLE)}
        for neuron, uses in tracer.consumers.items():
            if neuron.norm == 1 or any(kind != 'linear' for kind, _ in uses):
                continue
            consumers = [layers[i] for _, i in uses if i in layers]
            if len(consumers) != len(uses) or any(tracer.feeders[c] != {neuron}
                                                  for c in consumers):
                continue
            for layer in consumers:
                layer.weight.div_(neuron.norm)
            neuron.norm = 1.0
            norms += 1
        for module in model.modules():
            if hasattr(module, 'fold_spike_norms'):
                norms += module.fold_spike_norms()
    return dict(bn_folded=folded, bn_left=left, norms_folded=norms)
