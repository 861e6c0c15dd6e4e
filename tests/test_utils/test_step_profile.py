"""Step-bound helpers: op kinds, a grouped-conv-correct dense FLOP count, the GEMM rate."""
import pytest
import torch
from torch import nn

from mmsdt.utils.step_profile import (BATCH_NORM, CONV_BACKWARD, CONV_FORWARD, ELEMENTWISE,
                                      FUSED, MATMUL, OP_KINDS, OPTIMIZER, OVERHEAD, TASK_LOGIC,
                                      DenseFlopCounter, gemm_throughput, op_kind,
                                      time_by_op_kind)


@pytest.mark.parametrize('name, kind', [
    ('aten::mkldnn_convolution', CONV_FORWARD),
    ('aten::convolution_backward', CONV_BACKWARD),
    ('aten::addmm', MATMUL),
    ('aten::_sparse_mm', MATMUL),
    ('## Call CompiledFxGraph fhrvo66f', FUSED),
    ('aten::native_batch_norm_backward', BATCH_NORM),
    ('aten::sort', TASK_LOGIC),
    ('torchvision::nms', TASK_LOGIC),
    ('aten::_fused_adamw_', OPTIMIZER),
    ('aten::_foreach_mul_', OPTIMIZER),
    ('aten::round', ELEMENTWISE),
    ('aten::copy_', ELEMENTWISE),
    ('autograd::engine::evaluate_function: AddmmBackward0', OVERHEAD),
    ('_FusedBatchNormSpike', OVERHEAD),
])
def test_op_kind(name, kind):
    assert op_kind(name) == kind


def test_time_by_op_kind_sums_self_time_per_kind():
    class Event:
        def __init__(self, key, us, count):
            self.key, self.self_cpu_time_total, self.count = key, us, count

    kinds = time_by_op_kind([Event('aten::mkldnn_convolution', 30.0, 2),
                             Event('aten::convolution', 1.5, 2),
                             Event('aten::mul', 4.0, 10),
                             Event('aten::add', 1.0, 3)])
    assert set(kinds) == set(OP_KINDS)
    assert kinds[CONV_FORWARD] == (31.5, 4)
    assert kinds[ELEMENTWISE] == (5.0, 13)
    assert kinds[MATMUL] == (0.0, 0)


def _conv_flops(conv, x):
    """2 x multiply-adds of the forward: output elements x (kernel area x input channels per
    group)."""
    out = conv(x)
    return 2 * out.numel() * conv.weight[0].numel()


@pytest.mark.parametrize('groups', [1, 4, 8])
@pytest.mark.parametrize('input_grad', [True, False])
def test_dense_flops_of_a_grouped_conv(groups, input_grad):
    conv = nn.Conv2d(8, 16, 3, padding=1, groups=groups)
    x = torch.randn(2, 8, 10, 10, requires_grad=input_grad)
    forward = _conv_flops(conv, x)
    with DenseFlopCounter() as counter:
        conv(x).sum().backward()
    # forward, weight gradient, and the input gradient only when the input needs one;
    # torch's own formula would count a grouped backward `groups` times too high
    assert counter.dense_flops() == {'convolution': forward * (3 if input_grad else 2),
                                     'matrix products': 0}


def test_dense_flops_of_a_transposed_conv_and_a_linear():
    deconv = nn.ConvTranspose2d(4, 6, 2, stride=2)
    linear = nn.Linear(5, 3)
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    with DenseFlopCounter() as counter:
        deconv(x).sum().backward()
        linear(torch.randn(9, 5, requires_grad=True)).sum().backward()
    flops = counter.dense_flops()
    # a transposed conv multiplies every input element by every (out channel, tap) weight
    assert flops['convolution'] == 3 * 2 * x.numel() * 6 * 4
    assert flops['matrix products'] == 3 * 2 * 9 * 5 * 3


def test_gemm_throughput_is_a_rate_and_checks_arguments():
    rate = gemm_throughput(torch.float32, size=64, repeats=2)
    assert 1e6 < rate < 1e15
    with pytest.raises(ValueError, match='size and repeats'):
        gemm_throughput(size=0)
