"""The fused training kernels (mmsdt.snn.kernels.fused_bn_spike) against the unfused modules,
in float64."""
import copy
import warnings

import pytest
import torch
from torch import nn

from mmsdt.snn import MultiSpike, SpikeRecorder, compact_spike_storage, spike_driven
from mmsdt.snn.kernels import fused_bn_spike as fused
from mmsdt.snn.kernels.fused_bn_spike import (batch_norm, can_fuse, can_fuse_batch_norm,
                                              can_fuse_norm, codes_to_spikes, use_fused_kernels)

pytestmark = pytest.mark.usefixtures('fuse_small_tensors')

# potentials on every rounding tie and boundary, plus random values
EDGES = [-1.0, -0.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.5, 3.5, 4.0, 4.0 + 1e-12, 4.5, 7.0, 7.5, 9.0]


def _potentials(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(shape, generator=g, dtype=torch.float64) * 3 + 1.5
    flat = u.view(-1)
    flat[:len(EDGES)] = torch.tensor(EDGES, dtype=torch.float64)
    return u


def _grad_of(fn, u, weight):
    u = u.detach().clone().requires_grad_()
    out = fn(u)
    (out * weight).sum().backward()
    return out, u.grad


@pytest.mark.parametrize('cfg', [
    dict(),
    dict(rounding='half_up'),
    dict(include_boundary=False),
    dict(max_value=1, norm=1),
    dict(max_value=7, norm=3.0),
    dict(max_value=127, norm=1, rounding='half_up'),
])
@pytest.mark.parametrize('layout', ['contiguous', 'channels_last', 'transposed', 'strided'])
def test_fused_neuron_equals_unfused(cfg, layout):
    base = _potentials((2, 5, 6, 7))
    u = {'contiguous': base, 'channels_last': base.contiguous(memory_format=torch.channels_last),
         'transposed': base.flatten(2).transpose(1, 2), 'strided': base[:, :, ::2]}[layout]
    weight = torch.randn(u.shape, dtype=torch.float64)
    spike = MultiSpike(**cfg)
    with use_fused_kernels(False):
        ref, ref_grad = _grad_of(spike, u, weight)
    with use_fused_kernels(True):
        assert can_fuse(u.detach().requires_grad_(), spike)
        out, grad = _grad_of(spike, u, weight)
    assert torch.equal(out, ref)
    assert torch.equal(grad, ref_grad)  # a 0/1 mask times the gradient divided by norm: exact
    if layout != 'strided':
        assert out.stride() == ref.stride()


def _randomised_bn(cls, channels, seed=0):
    torch.manual_seed(seed)
    bn = cls(channels).double()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-0.5, 1.5)
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    return bn


def _bn_inputs():
    x4 = torch.randn(2, 6, 5, 7, dtype=torch.float64) * 2 + 0.3
    x3 = torch.randn(3, 6, 10, dtype=torch.float64) * 2 + 0.3
    return {
        'bn2d_contiguous': (nn.BatchNorm2d, x4),
        'bn2d_channels_last': (nn.BatchNorm2d, x4.contiguous(memory_format=torch.channels_last)),
        'bn1d_3d': (nn.BatchNorm1d, x3),
        'bn1d_3d_channels_inner': (nn.BatchNorm1d, x3.transpose(1, 2).contiguous().transpose(1, 2)),
        'bn1d_2d': (nn.BatchNorm1d, torch.randn(9, 6, dtype=torch.float64) * 2),
    }


BN_MODES = ['train', 'eval', 'train_momentum_none', 'frozen_affine', 'input_without_grad']


def _run_bn_both_ways(case, mode, seed, forward, can_fuse_it):
    """Run ``forward(x, bn)`` twice (running statistics updated twice) and backward, unfused
    and fused, on copies of one BN set up for ``mode``; checks the input's, BN parameters' and
    running statistics' agreement and returns (fused output, unfused output)."""
    cls, x = _bn_inputs()[case]
    bn = _randomised_bn(cls, 6, seed)
    bn.train(mode != 'eval')
    if mode == 'train_momentum_none':
        bn.momentum = None
    if mode == 'frozen_affine':
        bn.weight.requires_grad_(False)
        bn.bias.requires_grad_(False)
    bn_ref = copy.deepcopy(bn)
    weight = torch.randn(x.shape, dtype=torch.float64)
    x_grad = mode != 'input_without_grad'

    def run(module, fused_on):
        xin = x.detach().clone().requires_grad_(x_grad)
        with use_fused_kernels(fused_on):
            assert can_fuse_it(xin, module) == fused_on
            for _ in range(2):
                out = forward(xin, module)
            (out * weight).sum().backward()
        return out, xin.grad

    ref, ref_grad = run(bn_ref, False)
    out, grad = run(bn, True)
    if x_grad:
        torch.testing.assert_close(grad, ref_grad, rtol=1e-12, atol=1e-12)
    else:
        assert grad is None
    for name in ('weight', 'bias'):
        p, p_ref = getattr(bn, name), getattr(bn_ref, name)
        if mode == 'frozen_affine':
            assert p.grad is None
        else:
            torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-12, atol=1e-12)
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        torch.testing.assert_close(getattr(bn, name).double(), getattr(bn_ref, name).double(),
                                   rtol=1e-14, atol=1e-14)
    if mode != 'eval':
        assert bn.num_batches_tracked.item() == 2
    return out, ref


@pytest.mark.parametrize('case', sorted(_bn_inputs()))
@pytest.mark.parametrize('mode', BN_MODES)
def test_fused_bn_neuron_equals_bn_then_neuron(case, mode):
    spike = MultiSpike(norm=2)
    out, ref = _run_bn_both_ways(case, mode, 0, spike.after_norm,
                                 lambda x, bn: can_fuse_norm(x, bn, spike))
    assert torch.equal(out, ref)  # spikes bit for bit


@pytest.mark.parametrize('case', sorted(_bn_inputs()))
@pytest.mark.parametrize('mode', BN_MODES)
def test_fused_bn_alone_equals_bn(case, mode):
    """``batch_norm(x, bn)`` (a BN whose output is not spiked): BN's values, gradients and
    running statistics up to float64 rounding (its statistics are summed in another order)."""
    out, ref = _run_bn_both_ways(case, mode, 1, batch_norm, can_fuse_batch_norm)
    assert out.shape == ref.shape  # the layout may differ (the input's, not BN's choice)
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)


def test_fused_bn_alone_keeps_dtype_and_falls_back_for_observers():
    x = (torch.randn(2, 4, 6, 6) * 3).requires_grad_()
    bn = nn.BatchNorm2d(4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = batch_norm(x.bfloat16(), bn)
        with use_fused_kernels(False):
            y_ref = batch_norm(x.bfloat16(), copy.deepcopy(bn))
    assert y.dtype == y_ref.dtype == torch.bfloat16  # BN keeps its input's dtype, as eager
    y.float().sum().backward()
    assert bn.weight.grad.dtype == torch.float32 and x.grad.dtype == torch.float32
    calls = []
    handle = bn.register_forward_hook(lambda m, a, o: calls.append(1))
    assert not can_fuse_batch_norm(x, bn)
    batch_norm(x, bn)
    assert calls == [1]  # the hook saw the BN's own call
    handle.remove()
    with torch.no_grad():
        assert not can_fuse_batch_norm(x, bn)
    assert not can_fuse_batch_norm(x, nn.SyncBatchNorm(4))
    assert not can_fuse_batch_norm(x, nn.BatchNorm2d(4, affine=False))
    with pytest.raises(ValueError, match='more than 1 value per channel'):
        batch_norm(torch.randn(1, 4, 1, 1, requires_grad=True), bn)


def test_fused_outputs_follow_autocast_and_requested_dtype():
    x = (torch.randn(2, 4, 6, 6) * 3).requires_grad_()
    bn = nn.BatchNorm2d(4)
    spike = MultiSpike()
    ref = spike(bn(x))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = spike(x)
        out_bn = spike.after_norm(x, bn)
        out_fp32 = spike.after_norm(x, bn, dtype=torch.float32)
    assert out.dtype == out_bn.dtype == torch.bfloat16 and out_fp32.dtype == torch.float32
    assert torch.equal(out.float(), spike(x))  # spikes are exact in bfloat16
    assert torch.equal(out_fp32, ref)
    assert torch.equal(out_bn.float(), ref)
    out.float().sum().backward()
    assert x.grad.dtype == torch.float32


def test_unfused_where_fusion_would_change_what_observers_see():
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    bn, spike = nn.BatchNorm2d(4), MultiSpike()
    assert can_fuse(x, spike) and can_fuse_norm(x, bn, spike)
    with SpikeRecorder(nn.ModuleDict(dict(spike=spike))) as rec:
        assert not can_fuse(x, spike) and not can_fuse_norm(x, bn, spike)
        spike.after_norm(x, bn)
    assert rec.stats['spike'].calls == 1  # the hook saw the neuron's call
    handle = bn.register_forward_pre_hook(lambda m, a: None)
    assert not can_fuse_norm(x, bn, spike)
    handle.remove()
    with spike_driven(nn.ModuleDict(dict(spike=spike))):
        assert not can_fuse(x, spike)
    with torch.no_grad():
        assert not can_fuse(x, spike) and not can_fuse_norm(x, bn, spike)
    assert not can_fuse(x.detach(), spike)
    assert not can_fuse_norm(x, nn.SyncBatchNorm(4), spike)
    assert not can_fuse(x, MultiSpike(max_value=200))
    with use_fused_kernels(False):
        assert not can_fuse(x, spike)


def test_small_tensors_take_the_eager_path(monkeypatch):
    monkeypatch.setattr(fused, 'MIN_FUSED_NUMEL', 1000)
    bn, spike = nn.BatchNorm2d(4), MultiSpike()
    small = torch.randn(2, 4, 10, 12, requires_grad=True)  # 960 elements
    large = torch.randn(2, 4, 10, 13, requires_grad=True)  # 1040 elements
    assert not can_fuse(small, spike) and not can_fuse_norm(small, bn, spike)
    assert not can_fuse_batch_norm(small, bn)
    assert can_fuse(large, spike) and can_fuse_norm(large, bn, spike)
    assert can_fuse_batch_norm(large, bn)


def test_environment_variable_disables_fusion(monkeypatch):
    x = torch.randn(5, requires_grad=True)
    monkeypatch.setenv('MMSDT_FUSED_KERNELS', '0')
    assert not can_fuse(x, MultiSpike())
    with use_fused_kernels(True):  # explicit choice wins
        assert can_fuse(x, MultiSpike())


def test_batch_of_one_value_per_channel_keeps_bn_error():
    x = torch.randn(1, 3, 1, 1, requires_grad=True)
    with pytest.raises(ValueError, match='more than 1 value per channel'):
        MultiSpike().after_norm(x, nn.BatchNorm2d(3))


def test_compact_storage_saves_the_code_of_fused_spikes(monkeypatch):
    from mmsdt.snn.kernels import compact_storage as compact
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 5, 3, padding=1).double()
    bn, spike = _randomised_bn(nn.BatchNorm2d, 4), MultiSpike()
    x = (torch.randn(2, 4, 6, 6, dtype=torch.float64) * 2).contiguous(
        memory_format=torch.channels_last)
    kinds = []

    def recording_pack(t):
        packed = pack(t)
        kinds.append(packed[0] if isinstance(packed, tuple) else t.dtype)
        return packed

    pack = compact._pack
    monkeypatch.setattr(compact, '_pack', recording_pack)

    def step(compact_on):
        conv.weight.grad = None
        xin = x.clone().requires_grad_()
        with compact_spike_storage() if compact_on else torch.enable_grad():
            # a spike tensor and a transposed view of one, each saved by a conv
            out = conv(spike.after_norm(xin, bn)) + conv(spike(xin).transpose(2, 3)).sum()
        out.sum().backward()
        return out, xin.grad, conv.weight.grad

    ref = step(False)
    out = step(True)
    for a, b in zip(out, ref):
        assert torch.equal(a, b)
    assert kinds.count('code') == 2 and 'spike' not in kinds


def test_codes_to_spikes_in_any_layout():
    code = torch.tensor([[0, 1, 128 + 2], [128 + 4, 3, 128]], dtype=torch.uint8)
    expected = torch.tensor([[0, 0.25, 0.5], [1, 0.75, 0]])
    assert torch.equal(codes_to_spikes(code, 4.0, torch.float32), expected)
    assert torch.equal(codes_to_spikes(code.t(), 4.0, torch.bfloat16), expected.t().bfloat16())
    assert torch.equal(codes_to_spikes(code[:, ::2], 4.0, torch.float32), expected[:, ::2])


def test_compile_failure_falls_back_to_eager_with_a_warning(monkeypatch):
    def broken_compile(fn, **kwargs):

        def run(*args):
            raise RuntimeError('no C++ compiler')

        return run

    monkeypatch.setattr(fused, '_kernels', {})
    monkeypatch.setattr(fused, '_compile_broken', {})
    monkeypatch.setattr(torch, 'compile', broken_compile)
    u = _potentials((3, 8)).requires_grad_()
    spike = MultiSpike()
    with use_fused_kernels(False):
        ref, ref_grad = _grad_of(spike, u, torch.ones_like(u))
    with use_fused_kernels(True), pytest.warns(UserWarning, match='no C.. compiler'):
        out, grad = _grad_of(spike, u, torch.ones_like(u))
    assert torch.equal(out, ref) and torch.equal(grad, ref_grad)
    assert 'no C++ compiler' in fused.compile_failure()
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # warned once, then silently eager
        _grad_of(spike, u, torch.ones_like(u))


def test_errors_of_the_inputs_are_not_taken_for_compiler_failures(monkeypatch):
    monkeypatch.setattr(fused, '_compile_broken', {})
    with pytest.raises(RuntimeError):
        fused._run(fused._codes_to_spikes, ('bad', ), torch.zeros(3), 1.0, 'not a dtype')
    assert fused.compile_failure() is None


# ---------------------------------------------------------------------------- compiled, really
# The tests above pass on the eager fallback too (same functions, same values). These check
# that the default training path runs the *compiled* kernels wherever inductor can compile.
DEFAULT_MIN_FUSED_NUMEL = fused.MIN_FUSED_NUMEL  # read before any fixture lowers it
ALL_KERNELS = ('spike_forward', 'spike_backward', 'bn_forward', 'bn_backward',
               'bn_spike_forward', 'bn_spike_backward', 'codes_to_spikes')


def _inductor_error():
    """Why inductor cannot compile a trivial function on this machine, or None."""
    try:
        double = torch.compile(lambda t: t * 2 + 1, backend='inductor', fullgraph=True,
                               dynamic=True)
        if not torch.equal(double(torch.arange(8.)), torch.arange(8.) * 2 + 1):
            return 'a compiled trivial function returned wrong values'
    except Exception as err:  # the compiler's own error, shown as the skip reason
        return f'{type(err).__name__}: {err}'.split('\n')[0]
    return None


@pytest.fixture(scope='module')
def inductor_works():
    """Skip (with the compiler's error) only where inductor itself cannot compile."""
    error = _inductor_error()
    if error is not None:
        pytest.skip(f'torch.compile (inductor) cannot compile on this machine: {error}')


def _training_step():
    """A training step of the default path at the default size threshold: BN + neuron, conv,
    BN alone, neuron, with compact spike storage (the conv's saved spikes are the neuron's
    code), forward and backward, float32."""
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
    bn1, bn2, spike = nn.BatchNorm2d(8), nn.BatchNorm2d(8), MultiSpike()
    x = torch.randn(2, 8, 128, 128) * 2
    assert x.numel() >= fused.MIN_FUSED_NUMEL == DEFAULT_MIN_FUSED_NUMEL
    with compact_spike_storage():
        hidden = conv(spike.after_norm(x, bn1))
        out = spike(batch_norm(hidden, bn2) + 0.5)
    out.square().sum().backward()
    assert conv.weight.grad.abs().sum() > 0 and bn1.weight.grad.abs().sum() > 0


def _assert_every_kernel_ran_compiled(step):
    """Run ``step`` with the fused kernels on; fail if any kernel fell back to eager torch (a
    fallback warning, a recorded compile failure, an eager call) or never ran compiled."""
    before = fused.kernel_calls()
    with use_fused_kernels(True), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        step()
    after = fused.kernel_calls()
    fallbacks = [str(w.message) for w in caught if 'could not be compiled' in str(w.message)]
    assert not fallbacks, f'fallback warning: {fallbacks}'
    assert fused.compile_failure() is None, f'compile failure: {fused.compile_failure()}'
    ran = {
        name: {how: after.get(name, {}).get(how, 0) - before.get(name, {}).get(how, 0)
               for how in ('compiled', 'eager')}
        for name in ALL_KERNELS
    }
    eager = {name: n['eager'] for name, n in ran.items() if n['eager']}
    assert not eager, f'eager calls of fused kernels: {eager}'
    missing = [name for name, n in ran.items() if not n['compiled']]
    assert not missing, f'kernels that did not run compiled: {missing}'


def test_default_training_path_runs_every_kernel_compiled(inductor_works, monkeypatch):
    monkeypatch.setattr(fused, 'MIN_FUSED_NUMEL', DEFAULT_MIN_FUSED_NUMEL)
    _assert_every_kernel_ran_compiled(_training_step)


def _broken_compile(fn, **kwargs):

    def run(*args):
        raise RuntimeError('no C++ compiler')

    return run


@pytest.mark.parametrize('fallback, message', [
    ('compiler_fails', 'fallback warning'),  # this process's first compile fails
    ('failed_earlier', 'compile failure'),  # an earlier failure made the kernels eager
    ('not_compiled', 'eager calls'),  # the kernels silently not compiled
    ('not_fused', 'did not run compiled'),  # the training path skipped the kernels
])
def test_the_compiled_path_check_fails_on_a_fallback(monkeypatch, fallback, message):
    """The check above catches each way of ending up on the eager fallback."""
    monkeypatch.setattr(fused, 'MIN_FUSED_NUMEL', DEFAULT_MIN_FUSED_NUMEL)
    monkeypatch.setattr(fused, '_kernels', {})
    monkeypatch.setattr(fused, '_compile_broken', {})
    if fallback == 'compiler_fails':
        monkeypatch.setattr(torch, 'compile', _broken_compile)
    elif fallback == 'failed_earlier':
        fused._compile_broken['reason'] = 'RuntimeError: no C++ compiler'
    elif fallback == 'not_compiled':
        monkeypatch.setattr(fused, '_kernel', lambda fn, *variant: fn)
    else:
        monkeypatch.setattr(fused, '_fusion_on', lambda: False)
    with pytest.raises(AssertionError, match=message):
        _assert_every_kernel_ran_compiled(_training_step)
