"""Export an (optionally BN-folded) integer-mode spiking model to ONNX (checked by
:mod:`mmsdt.deployment.onnx_check`).

The neurons are exported as the ops they are: ``Clip(0, D)`` then ``Round`` (ONNX ``Round``
is round-half-to-even, like ``torch.round``), and a ``Div`` by ``norm`` where
:func:`mmsdt.snn.fold_bn` did not fold it into the next weights. No custom op is needed, so
the file runs on any ONNX runtime. The graph has static shapes (the example input's).

No OpenMMLab import here; ``onnx``, ``onnxscript`` and ``onnxruntime`` are imported when used.
"""
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional

import torch
from torch import nn

from mmsdt.snn import SpikeRecorder

# torch.onnx keeps weights in a separate ``FILE.data`` above this size (protobuf's 2 GB limit).
_EXTERNAL_DATA_BYTES = 1 << 30


def _require(module: str, purpose: str = 'ONNX export'):
    try:
        return __import__(module)
    except ImportError as err:
        raise ImportError(f'{purpose} needs the {module!r} package; install the pinned '
                          f'version with `make env` (requirements/constraints.txt)') from err


def _flat_outputs(out) -> List[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat_outputs(o)]
    raise TypeError(f'cannot export an output of type {type(out).__name__}; the module must '
                    f'return tensors (or lists / tuples / dicts of tensors)')


@dataclass
class ExportSummary:
    """What :func:`export_onnx` wrote: the file, its input / output names and shapes and the
    number of nodes per ONNX op type."""
    path: str
    input_name: str
    input_shape: tuple
    output_names: List[str]
    output_shapes: List[tuple]
    op_counts: Dict[str, int]


def _optimize(model) -> None:
    """onnxscript's default optimisation (constant folding, ``Max(Min(x))`` -> ``Clip``, dead
    code), in place, then re-register constants the ``Clip`` rewrite left without an
    initializer.

    onnxscript 0.7.2 names the bounds of a ``Clip`` after its input (``x_min``, ``x_max``);
    when two neurons clamp the same tensor (a stage output read by the next stage and by the
    neck), the second pair is never registered and the graph is invalid. The values are still
    attached to the nodes, so they are registered here under unique names.
    """
    from onnxscript.optimizer import optimize_ir

    optimize_ir(model)
    graph = model.graph
    registered = {id(v) for v in graph.initializers.values()} | {id(v) for v in graph.inputs}
    for node in graph:
        for value in node.inputs:
            if value is None or value.producer() is not None or id(value) in registered:
                continue
            if value.const_value is None:
                raise RuntimeError(f'ONNX export: input {value.name!r} of node {node.name!r} '
                                   f'has no producer and no value')
            base, i = value.name, 1
            while value.name in graph.initializers:
                value.name, i = f'{base}_{i}', i + 1
            graph.register_initializer(value)
            registered.add(id(value))


def onnx_op_counts(path: str) -> Dict[str, int]:
    """Number of nodes per op type of an ONNX file (main graph)."""
    onnx = _require('onnx')
    graph = onnx.load(path, load_external_data=False).graph
    return dict(Counter(node.op_type for node in graph.node).most_common())


def count_neuron_calls(module: nn.Module, *inputs) -> int:
    """How many times a ``MultiSpike`` runs in one forward of ``module`` (observed by a
    :class:`~mmsdt.snn.SpikeRecorder`); an export shows one ``Clip`` + ``Round`` per call."""
    with torch.no_grad(), SpikeRecorder(module) as recorder:
        module(*inputs)
    return sum(st.calls for st in recorder.stats.values())


def export_onnx(module: nn.Module,
                example: torch.Tensor,
                path: str,
                opset: int = 18,
                input_name: str = 'inputs',
                output_prefix: str = 'out',
                metadata: Optional[Dict[str, str]] = None) -> ExportSummary:
    """Export ``module(example)`` (eval mode, no gradients) to ``path`` with torch's exporter
    (``torch.export``, then onnxscript) and write ``metadata`` as the file's metadata props.

    Outputs are named ``{output_prefix}0``, ``{output_prefix}1``, ... in the order of the
    flattened PyTorch outputs.
    """
    onnx = _require('onnx')
    _require('onnxscript')
    module = module.eval()
    with torch.no_grad():  # also keeps the neurons off their autograd path
        outputs = _flat_outputs(module(example))
    output_names = [f'{output_prefix}{i}' for i in range(len(outputs))]
    size = sum(p.numel() * p.element_size() for p in module.parameters())
    external = size > _EXTERNAL_DATA_BYTES
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # exporter deprecation / fallback chatter
        program = torch.onnx.export(
            module, (example, ), dynamo=True, opset_version=opset, input_names=[input_name],
            output_names=output_names, external_data=external, optimize=False, verbose=False)
    _optimize(program.model)
    for key, value in (metadata or {}).items():
        program.model.metadata_props[str(key)] = str(value)
    onnx.checker.check_model(program.model_proto, full_check=True)
    program.save(path, external_data=external)
    return ExportSummary(path=path, input_name=input_name, input_shape=tuple(example.shape),
                         output_names=output_names,
                         output_shapes=[tuple(o.shape) for o in outputs],
                         op_counts=onnx_op_counts(path))
