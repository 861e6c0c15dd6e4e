"""What bounds a training step: its time by kind of op and its dense FLOPs against the CPU's
GEMM rate (used by ``tools/analysis_tools/benchmark_train_step.py --ops``).

* :func:`op_kind` sorts torch.profiler event names into a few kinds (convolution forward /
  backward, matrix products, compiled fused kernels, eager BatchNorm, indexing / sorting /
  NMS, optimizer, other element-wise ops and copies, framework overhead);
  :func:`time_by_op_kind` sums the profiler's *self* times per kind, so nothing is counted
  twice.
* :class:`DenseFlopCounter` counts the multiply-adds (x 2) of the convolutions and matrix
  products a block of code runs, forward and backward. It is torch's ``FlopCounterMode`` with
  one formula replaced: torch 2.x counts a grouped convolution's backward as if it were not
  grouped (24x too much for a 24-channel depthwise conv); here each gradient a convolution's
  backward computes costs what its forward costs.
* :func:`gemm_throughput` measures the rate of one large matrix product in a dtype, the
  practical peak that dense layers can reach on this machine.
"""
import time
from typing import Dict, Iterable, List, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

CONV_FORWARD = 'convolution forward'
CONV_BACKWARD = 'convolution backward'
MATMUL = 'matrix products (mm, addmm, bmm, sparse)'
FUSED = 'fused neuron / BN kernels (compiled code)'
BATCH_NORM = 'BatchNorm (eager)'
TASK_LOGIC = 'indexing, sorting, NMS (targets, sampling, proposals)'
OPTIMIZER = 'optimizer update'
ELEMENTWISE = 'other tensor ops (element-wise, reductions, copies)'
OVERHEAD = 'Python, autograd, dispatch (no tensor op)'
OP_KINDS = (CONV_FORWARD, CONV_BACKWARD, MATMUL, FUSED, BATCH_NORM, TASK_LOGIC, OPTIMIZER,
            ELEMENTWISE, OVERHEAD)

_CONV_FORWARD_OPS = ('aten::mkldnn_convolution', 'aten::_slow_conv2d_forward',
                     'aten::slow_conv_transpose2d', 'aten::_nnpack_spatial_convolution',
                     'aten::slow_conv_dilated2d', 'aten::_convolution', 'aten::convolution',
                     'aten::conv1d', 'aten::conv2d', 'aten::conv_transpose2d',
                     'aten::_mkldnn_convolution', 'aten::thnn_conv2d')
_MATMUL_OPS = ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::baddbmm', 'aten::matmul',
               'aten::linear', 'aten::addmv', 'aten::mv', 'aten::dot', 'aten::_addmm_activation')
_TASK_OPS = ('aten::index', 'aten::index_put_', 'aten::_index_put_impl_', 'aten::sort',
             'aten::argsort', 'aten::topk', 'aten::nonzero', 'aten::masked_select',
             'aten::gather', 'aten::scatter', 'aten::scatter_', 'aten::scatter_add_',
             'aten::index_select', 'aten::unique', 'aten::_unique2', 'aten::index_add_',
             'aten::masked_fill_', 'aten::where', 'aten::max_pool2d_with_indices')


def op_kind(name: str) -> str:
    """The kind (one of :data:`OP_KINDS`) of a torch.profiler event ``name``."""
    if name.startswith('## Call Compiled'):  # inductor's '## Call CompiledFxGraph <hash>'
        return FUSED
    if name in _CONV_FORWARD_OPS:
        return CONV_FORWARD
    if name.startswith('aten::convolution_backward') or (
            name.startswith('aten::mkldnn_convolution') and 'backward' in name):
        return CONV_BACKWARD
    if name in _MATMUL_OPS or name.startswith('aten::_sparse') or 'sparse_mm' in name:
        return MATMUL
    if 'batch_norm' in name:
        return BATCH_NORM
    if (name in _TASK_OPS or 'nms' in name.lower() or 'roi_align' in name.lower()
            or name.startswith('aten::masked_scatter')):
        return TASK_LOGIC
    if 'adam' in name.lower() or name.startswith('aten::_foreach'):
        return OPTIMIZER
    if name.startswith('aten::') or name.startswith('prim::'):
        return ELEMENTWISE
    return OVERHEAD


def time_by_op_kind(events: Iterable) -> Dict[str, Tuple[float, int]]:
    """Sum ``self_cpu_time_total`` (microseconds) and call counts per :func:`op_kind` over
    profiler averages (``prof.key_averages()``); every kind of :data:`OP_KINDS` is present."""
    totals: Dict[str, List[float]] = {kind: [0.0, 0] for kind in OP_KINDS}
    for event in events:
        entry = totals[op_kind(event.key)]
        entry[0] += event.self_cpu_time_total
        entry[1] += event.count
    return {kind: (value[0], int(value[1])) for kind, value in totals.items()}


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding,
                         _dilation, transposed, _output_padding, _groups, output_mask,
                         out_shape=None) -> int:
    # conv_flop_count reads the per-group input channels from the weight's shape, so it is
    # right for grouped convolutions; each gradient costs one forward
    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed=transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


class DenseFlopCounter(FlopCounterMode):
    """``FlopCounterMode`` (torch) with a grouped-conv-correct backward formula; use as a
    context manager, then read :meth:`dense_flops`.

    Example:
        >>> conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=8)
        >>> x = torch.randn(1, 8, 16, 16, requires_grad=True)
        >>> with DenseFlopCounter() as counter:
        ...     conv(x).sum().backward()
        >>> counter.dense_flops()['convolution'] == 3 * 2 * 8 * 16 * 16 * 9
        True
    """

    def __init__(self):
        super().__init__(display=False, custom_mapping={
            torch.ops.aten.convolution_backward: _conv_backward_flops})

    def dense_flops(self) -> Dict[str, int]:
        """FLOPs (2 per multiply-add) of convolutions and of matrix products, forward and
        backward together."""
        out = {'convolution': 0, 'matrix products': 0}
        for op, flops in self.get_flop_counts()['Global'].items():
            out['convolution' if 'convolution' in str(op) else 'matrix products'] += flops
        return out


def gemm_throughput(dtype: torch.dtype = torch.float32, size: int = 2048,
                    repeats: int = 5) -> float:
    """FLOP/s of a ``size`` x ``size`` x ``size`` matrix product in ``dtype`` on the CPU
    (best of ``repeats`` after one warm-up)."""
    if size < 1 or repeats < 1:
        raise ValueError(f'size and repeats must be >= 1, got {size} and {repeats}')
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best
