"""Check an exported integer-mode ONNX file against the PyTorch module, neuron by neuron.

The pass rule (docs/design.md#onnx-export) has no free tolerance:

* **Lock-step.** onnxruntime runs a copy of the file whose every neuron exposes its potential
  (the input of its ``Clip``) and its count (the output of its ``Round``). PyTorch then runs
  the module in float64 with each neuron's output replaced by onnxruntime's count, so that
  every potential on both sides is computed from the same spikes. A count that differed
  upstream cannot make a later neuron differ.
* **Derived bound.** Each float32 value onnxruntime computes is a sum of products; whatever the
  summation order, its rounding error is at most ``gamma_d * S`` (Higham, *Accuracy and
  Stability of Numerical Algorithms*, 2nd ed., eq. 3.5 and Lemma 3.3), where
  ``gamma_d = d u / (1 - d u)``, ``u = 2**-24`` (float32 unit roundoff), ``d`` the number of
  roundings on the longest path from a term to the value (bounded by the largest accumulation
  length of any node plus the number of nodes of the graph), and ``S`` the same value computed
  with the absolute value of every weight and input (float64, the same replayed spikes, which
  are non-negative). The float64 PyTorch value is exact to ~1e-16 relative, far inside the
  bound.
* **Counts.** A neuron's count equals the float64 count except where the float64 potential
  lies within its bound of a rounding tie ``k + 0.5`` (there float32 may round either way);
  there it may differ by one.
* **Outputs.** Every output is within its bound of the float64 output, and is not constant
  (all elements equal, e.g. all zero: a silent model shows nothing).
* **The file itself.** The file and the instrumented copy run with graph optimisations off,
  so both execute the same kernels in the same order: their outputs must be identical.

No OpenMMLab import here; ``onnx`` and ``onnxruntime`` are imported when used.
"""
import copy
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from mmsdt.snn import HookSet, fold_bn, is_spiking_neuron

from .onnx_export import _flat_outputs as _flat
from .onnx_export import _require as require_package

UNIT_ROUNDOFF = 2.0**-24  # float32
# Nodes whose one output element sums more than one rounded term (others round once).
_ACCUMULATING = ('Conv', 'ConvTranspose', 'MatMul', 'Gemm', 'ReduceSum', 'ReduceMean',
                 'GlobalAveragePool', 'AveragePool', 'Resize', 'Softmax')


def _require(module: str):
    return require_package(module, 'the ONNX check')


@dataclass
class NeuronCheck:
    """One neuron call: onnxruntime's potential and count against float64 PyTorch."""
    index: int
    shape: tuple
    max_value: int
    max_potential_error: float  # max |u_onnx - u_float64|
    max_bound: float  # the largest per-element bound of this call
    outside_bound: int  # potentials farther from float64 than their bound
    tie_flips: int  # counts that differ, at a potential within its bound of a tie
    untied_flips: int  # counts that differ elsewhere (or by more than one)
    spikes: float  # sum of the counts
    elements: int


@dataclass
class OutputCheck:
    """One output of the file against the float64 PyTorch output on the same spikes."""
    name: str
    shape: tuple
    max_abs_error: float
    max_bound: float
    outside_bound: int
    max_ref: float
    constant: bool  # every element equal (e.g. all zero)
    file_differs: bool  # the file's own run differs from the instrumented copy


@dataclass
class OnnxCheckReport:
    """What :func:`check_onnx_file` found; :attr:`ok` is the verdict and :meth:`failures`
    says why not."""
    depth: int  # d: roundings on the longest path (bound)
    gamma: float  # gamma_d
    neurons: List[NeuronCheck] = field(default_factory=list)
    outputs: List[OutputCheck] = field(default_factory=list)

    @property
    def firing_rate(self) -> float:
        """Mean count / D over every neuron output element."""
        total = sum(n.elements * n.max_value for n in self.neurons)
        return sum(n.spikes for n in self.neurons) / max(total, 1)

    def failures(self) -> List[str]:
        """One message per broken rule (empty when the file passes)."""
        out = []
        for n in self.neurons:
            if n.outside_bound:
                out.append(f'neuron call {n.index} {list(n.shape)}: {n.outside_bound} '
                           f'potentials off by more than their float32 bound (max error '
                           f'{n.max_potential_error:.3e}, bound up to {n.max_bound:.3e})')
            if n.untied_flips:
                out.append(f'neuron call {n.index}: {n.untied_flips} counts differ away from '
                           f'a rounding tie')
        if self.neurons and self.firing_rate == 0:
            out.append('no neuron fires on the check input: the model is silent')
        for o in self.outputs:
            if o.constant:
                out.append(f'output {o.name} is constant ({o.max_ref:g} everywhere): the model '
                           f'is silent or constant, the comparison shows nothing')
            if o.outside_bound:
                out.append(f'output {o.name}: {o.outside_bound} elements off by more than their '
                           f'float32 bound (max error {o.max_abs_error:.3e}, bound up to '
                           f'{o.max_bound:.3e})')
            if o.file_differs:
                out.append(f'output {o.name}: the file and its instrumented copy disagree')
        return out

    @property
    def ok(self) -> bool:
        return not self.failures()


# ------------------------------------------------------------------------- the ONNX side
def _neuron_nodes(graph) -> List[Tuple[str, str, int]]:
    """``(potential, count, D)`` of every ``Clip(0, D)`` -> ``Round`` pair, in graph order."""
    from onnx import numpy_helper
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant':
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    readers: Dict[str, List] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    pairs = []
    for node in graph.node:
        if node.op_type != 'Clip' or len(node.input) < 3:
            continue
        low, high = consts.get(node.input[1]), consts.get(node.input[2])
        rounds = [r for r in readers.get(node.output[0], []) if r.op_type == 'Round']
        if low is None or high is None or float(low) != 0 or not rounds:
            continue
        pairs.append((node.input[0], rounds[0].output[0], int(round(float(high)))))
    return pairs


def accumulation_depth(proto) -> int:
    """``d`` of the bound: the largest number of terms one output element of any node sums
    (``Conv``: in-channels per group x kernel size; ``MatMul`` / ``Gemm``: the inner
    dimension; reductions and pools: the reduced elements; ``Resize``: the interpolation
    taps; ``Softmax``: the axis) plus the number of nodes (each rounds once more on a path)."""
    onnx = _require('onnx')
    from onnx import numpy_helper
    inferred = onnx.shape_inference.infer_shapes(proto)
    graph = inferred.graph
    shapes = {}
    for v in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = v.type.tensor_type.shape.dim
        shapes[v.name] = tuple(d.dim_value for d in dims)
    for t in graph.initializer:
        shapes[t.name] = tuple(t.dims)
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def attr(node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    def dims_of(name, node):
        got = shapes.get(name)
        if not got or 0 in got:
            raise ValueError(f'ONNX check: no static shape for input {name!r} of '
                             f'{node.op_type} node {node.name!r}; the bound needs one')
        return got

    longest = 1
    for node in graph.node:
        if node.op_type not in _ACCUMULATING:
            continue
        if node.op_type in ('Conv', 'ConvTranspose'):
            n = math.prod(dims_of(node.input[1], node)[1:])
        elif node.op_type == 'MatMul':
            n = dims_of(node.input[0], node)[-1]
        elif node.op_type == 'Gemm':
            a = dims_of(node.input[0], node)
            n = a[0] if attr(node, 'transA', 0) else a[-1]
        elif node.op_type in ('ReduceSum', 'ReduceMean'):
            x = dims_of(node.input[0], node)
            axes = consts.get(node.input[1]) if len(node.input) > 1 else attr(node, 'axes')
            n = math.prod(x[int(a)] for a in axes) if axes is not None else math.prod(x)
        elif node.op_type == 'GlobalAveragePool':
            n = math.prod(dims_of(node.input[0], node)[2:])
        elif node.op_type == 'AveragePool':
            n = math.prod(attr(node, 'kernel_shape'))
        elif node.op_type == 'Resize':
            spatial = len(dims_of(node.input[0], node)) - 2
            mode = attr(node, 'mode', b'nearest')
            mode = mode.decode() if isinstance(mode, bytes) else mode
            n = {'nearest': 1, 'linear': 2, 'cubic': 4}[mode]**spatial
        else:  # Softmax
            x = dims_of(node.input[0], node)
            n = x[attr(node, 'axis', -1)]
        longest = max(longest, int(n))
    return longest + len(graph.node)


def _run_onnxruntime(proto_bytes: bytes, feed: dict) -> List[np.ndarray]:
    """All outputs of the model, on onnxruntime's CPU provider with graph optimisations off."""
    ort = _require('onnxruntime')
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(proto_bytes, options, providers=['CPUExecutionProvider'])
    return session.run(None, feed)


# ------------------------------------------------------------------------- the PyTorch side
class _Replay(HookSet):
    """Replaces the output of the i-th neuron call with ``counts[i] / norm`` and records the
    neuron's input (its potential)."""

    def __init__(self, module: nn.Module, counts: Sequence[np.ndarray], depths: Sequence[int]):
        super().__init__()
        self.counts, self.depths = counts, depths
        self.potentials: List[torch.Tensor] = []
        for m in module.modules():
            if is_spiking_neuron(m):
                self.add_forward_hook(m, self._hook)

    def _hook(self, neuron, inputs, output):
        i = len(self.potentials)
        if i >= len(self.counts):
            raise RuntimeError(f'ONNX check: PyTorch runs more neuron calls than the file has '
                               f'Clip + Round pairs ({len(self.counts)})')
        u = inputs[0]
        count = torch.from_numpy(np.asarray(self.counts[i])).to(u.dtype)
        if tuple(count.shape) != tuple(u.shape) or self.depths[i] != neuron.max_value:
            raise RuntimeError(
                f'ONNX check: neuron call {i} is {tuple(u.shape)} with D={neuron.max_value} in '
                f'PyTorch but {tuple(count.shape)} with D={self.depths[i]} in the file; the '
                f'file\'s Clip + Round pairs do not follow the call order')
        self.potentials.append(u.detach())
        return count / neuron.norm


def _replayed(module: nn.Module, x: torch.Tensor, counts, depths):
    with torch.no_grad(), _Replay(module, counts, depths) as replay:
        out = _flat(module(x))
    if len(replay.potentials) != len(counts):
        raise RuntimeError(f'ONNX check: {len(counts)} Clip + Round pairs in the file, '
                           f'{len(replay.potentials)} neuron calls in PyTorch')
    return replay.potentials, out


def _absolute_model(module: nn.Module, example: torch.Tensor) -> nn.Module:
    """A float64 copy with BatchNorm folded and every weight and buffer made non-negative:
    run on ``|x|`` and the replayed (non-negative) spikes it gives ``S``, the sum of the
    absolute values of every term of every value."""
    shadow = copy.deepcopy(module).eval()
    with torch.no_grad():
        fold_bn(shadow, example)
        shadow = shadow.double()
        for t in list(shadow.parameters()) + list(shadow.buffers()):
            if t.is_floating_point():
                t.abs_()
    return shadow


def check_onnx_file(path: str, module: nn.Module, inputs: torch.Tensor,
                    output_names: Optional[Sequence[str]] = None) -> OnnxCheckReport:
    """Check the ONNX file at ``path`` against ``module`` (what was exported, eval mode) on
    ``inputs`` (float32) under the rule of this module's docstring; returns the report.

    Raises:
        RuntimeError: the file's neurons (``Clip(0, D)`` + ``Round`` pairs) cannot be paired
            with the module's neuron calls, or the absolute-value bound does not hold for an
            operation of the model (the error model does not apply to it).
        ValueError: output count or shapes differ, or a shape needed for ``d`` is not static.
    """
    onnx = _require('onnx')
    proto = onnx.load(path)
    pairs = _neuron_nodes(proto.graph)
    depth = accumulation_depth(proto)
    gamma = depth * UNIT_ROUNDOFF / (1 - depth * UNIT_ROUNDOFF)

    outputs = [o.name for o in proto.graph.output]
    instrumented = copy.deepcopy(proto)
    exposed = list(outputs)
    for potential, count, _ in pairs:
        for name in (potential, count):
            if name not in exposed:
                exposed.append(name)
                instrumented.graph.output.append(
                    onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    x32 = inputs.detach().float().cpu()
    feed_value = x32.numpy()
    feed = {proto.graph.input[0].name: feed_value}
    got = _run_onnxruntime(instrumented.SerializeToString(), feed)
    plain = _run_onnxruntime(proto.SerializeToString(), feed)
    values = dict(zip(exposed, got))
    counts = [values[c] for _, c, _ in pairs]
    depths = [d for _, _, d in pairs]

    reference = copy.deepcopy(module).eval().double()
    u64, out64 = _replayed(reference, x32.double(), counts, depths)
    s_u, s_out = _replayed(_absolute_model(module, x32), x32.double().abs(), counts, depths)
    if len(out64) != len(outputs):
        raise ValueError(f'{path}: {len(outputs)} outputs, PyTorch gives {len(out64)}')

    report = OnnxCheckReport(depth=depth, gamma=gamma)
    for i, ((potential, _, d), ref, size) in enumerate(zip(pairs, u64, s_u)):
        ref, size = ref.numpy(), size.numpy()
        _check_bound_holds(size, ref, f'neuron call {i}')
        bound = gamma * size
        u_onnx = values[potential].astype(np.float64)
        err = np.abs(u_onnx - ref)
        clipped = np.clip(ref, 0, d)
        expected = np.round(clipped)  # numpy rounds half to even, like ONNX
        diff = np.abs(counts[i] - expected)
        near_tie = np.abs(clipped - (np.floor(clipped) + 0.5)) <= bound
        report.neurons.append(NeuronCheck(
            index=i, shape=tuple(ref.shape), max_value=d, max_potential_error=float(err.max()),
            max_bound=float(bound.max()), outside_bound=int((err > bound).sum()),
            tie_flips=int(((diff == 1) & near_tie).sum()),
            untied_flips=int(((diff > 0) & ~((diff == 1) & near_tie)).sum()),
            spikes=float(counts[i].sum()), elements=int(ref.size)))
    names = list(output_names or outputs)
    for name, key, ref, size, own in zip(names, outputs, out64, s_out, plain):
        ref, size, value = ref.numpy(), size.numpy(), values[key]
        if value.shape != ref.shape:
            raise ValueError(f'{path}: output {name} has shape {value.shape}, PyTorch '
                             f'{ref.shape}')
        _check_bound_holds(size, ref, f'output {name}')
        bound = gamma * size
        err = np.abs(value.astype(np.float64) - ref)
        report.outputs.append(OutputCheck(
            name=name, shape=tuple(ref.shape), max_abs_error=float(err.max()),
            max_bound=float(bound.max()), outside_bound=int((err > bound).sum()),
            max_ref=float(np.abs(ref).max()), constant=bool(value.max() == value.min()),
            file_differs=not np.array_equal(own, value)))
    return report


def _check_bound_holds(size: np.ndarray, ref: np.ndarray, what: str) -> None:
    """``S >= |value|`` must hold (it does for sums and products of the absolute values); if
    not, an operation of the model is outside the error model (e.g. a subtraction)."""
    if not np.all(size >= np.abs(ref) * (1 - 1e-12)):
        raise RuntimeError(f'ONNX check: the absolute-value bound does not hold at {what} '
                           f'(an operation outside sums and products of its inputs); the '
                           f'float32 error of this model cannot be bounded this way')
