import pytest
import torch

from mmsdt.snn import MultiSpike, neuron, use_fused_kernels
from mmsdt.snn.kernels.bitpack import _pack_reference, _unpack_reference, pack_mask, unpack_mask


def test_forward_values_half_even_default():
    u = torch.tensor([-1.0, 0.4, 0.5, 0.6, 1.5, 2.5, 3.5, 3.6, 9.0])
    y = MultiSpike()(u)
    # counts 0,0,0,1,2,2,4,4,4 (ties to even), divided by norm = D = 4
    assert y.tolist() == [0, 0, 0, 0.25, 0.5, 0.5, 1.0, 1.0, 1.0]


def test_half_up_and_norm():
    u = torch.tensor([0.5, 2.5, 7.0])
    assert MultiSpike(rounding='half_up', norm=1)(u).tolist() == [1, 3, 4]
    assert MultiSpike(max_value=8, norm=2)(u).tolist() == [0, 1, 3.5]


def test_train_and_eval_forward_identical():
    spike = MultiSpike()
    u = torch.linspace(-2, 6, 401)
    train_out = spike.train()(u)
    eval_out = spike.eval()(u)
    assert torch.equal(train_out, eval_out)
    assert set(torch.unique(train_out * 4).tolist()) == {0, 1, 2, 3, 4}


def test_straight_through_gradient():
    u = torch.tensor([-0.5, 0.0, 1.3, 4.0, 4.5], requires_grad=True)
    MultiSpike(norm=2)(u).sum().backward()
    assert u.grad.tolist() == [0, 0.5, 0.5, 0.5, 0]
    u.grad = None
    MultiSpike(norm=2, include_boundary=False)(u).sum().backward()
    assert u.grad.tolist() == [0, 0, 0.5, 0, 0]


def _saved_by_neuron(u):
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        MultiSpike()(u * 3)
    return saved


def test_backward_keeps_a_bit_packed_mask_not_the_input(monkeypatch):
    monkeypatch.setattr(neuron, 'MIN_PACKED_MASK_NUMEL', 3 * 67)
    u = torch.randn(3, 67, requires_grad=True)
    with use_fused_kernels(False):
        saved = _saved_by_neuron(u)
    assert len(saved) == 1 and saved[0].dtype == torch.uint8
    assert saved[0].numel() == (3 * 67 + 7) // 8


@pytest.mark.parametrize('norm', [1, 4])
def test_small_masks_are_kept_as_bools_with_the_same_gradient(monkeypatch, norm):
    u = (torch.randn(3, 67, dtype=torch.float64) * 3).requires_grad_()
    grad = torch.randn(3, 67, dtype=torch.float64)
    with use_fused_kernels(False):
        assert [t.dtype for t in _saved_by_neuron(u)] == [torch.bool]
        small = torch.autograd.grad(MultiSpike(norm=norm)(u), u, grad)[0]
        monkeypatch.setattr(neuron, 'MIN_PACKED_MASK_NUMEL', 1)
        assert [t.dtype for t in _saved_by_neuron(u)] == [torch.uint8]
        packed = torch.autograd.grad(MultiSpike(norm=norm)(u), u, grad)[0]
    assert torch.equal(small, packed)
    assert torch.equal(small, grad * ((u >= 0) & (u <= 4)) / norm)


def test_fused_backward_keeps_one_code_byte_not_the_input(fuse_small_tensors):
    u = torch.randn(3, 67, requires_grad=True)
    with use_fused_kernels(True):
        saved = _saved_by_neuron(u)
    assert len(saved) == 1 and saved[0].dtype == torch.uint8
    assert saved[0].shape == u.shape


def test_mask_packing_round_trip():
    mask = torch.rand(5, 13, 3) > 0.4
    packed = pack_mask(mask)
    assert packed.numel() == (mask.numel() + 7) // 8
    assert torch.equal(unpack_mask(packed, mask.shape), mask)


@pytest.mark.parametrize('numel', [1, 7, 8, 9, 64, 1001])
def test_word_packing_matches_per_element_packing(numel):
    torch.manual_seed(numel)
    mask = torch.rand(numel) > 0.5
    mask[-1] = True  # the highest bit of the last byte is exercised too
    padded = torch.cat([mask, mask.new_zeros((-numel) % 8)])
    assert torch.equal(pack_mask(mask), _pack_reference(padded))
    assert torch.equal(unpack_mask(_pack_reference(padded), mask.shape), mask)
    assert torch.equal(_unpack_reference(pack_mask(mask))[:numel], mask)


def test_packing_of_an_unaligned_view():
    base = torch.rand(3 + 40) > 0.5
    view = base[3:]  # storage offset 3 bytes: not a valid start of an int64 view
    assert torch.equal(unpack_mask(pack_mask(view), view.shape), view)


def test_bf16_autocast_matches_fp32():
    torch.manual_seed(0)
    u = (torch.randn(4, 8, 5, 5) * 3).to(torch.bfloat16)
    conv = torch.nn.Conv2d(8, 4, 3)
    spike = MultiSpike()
    ref = spike(u.float())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = spike(u)
        y = conv(out)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out.float(), ref)  # quarter steps 0..1 are exact in bf16
    assert y.dtype == torch.bfloat16


def test_torch_compile_forward_backward_match_eager():
    spike = MultiSpike()
    lin = torch.nn.Linear(8, 8)

    def loss(x):
        return lin(spike(x)).square().sum()

    compiled = torch.compile(loss)
    x = (torch.randn(4, 8) * 3).requires_grad_()
    out_c = compiled(x)
    out_c.backward()
    grad_c = x.grad.clone()
    x.grad = None
    out_e = loss(x)
    out_e.backward()
    torch.testing.assert_close(out_c, out_e)
    torch.testing.assert_close(grad_c, x.grad)


@pytest.mark.parametrize('kwargs, match', [
    (dict(max_value=0), 'max_value'),
    (dict(max_value=2.5), 'max_value'),
    (dict(norm=0), 'norm'),
    (dict(rounding='floor'), 'rounding'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MultiSpike(**kwargs)


def test_compact_spike_storage_packs_spikes_and_keeps_gradients(monkeypatch):
    from mmsdt.snn import compact_spike_storage
    torch.manual_seed(0)
    conv1, conv2 = torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 4, 3)
    spike1, spike2 = MultiSpike(), MultiSpike(norm=2)
    x = torch.randn(2, 3, 12, 12) * 3

    def run(compact):
        for p in (*conv1.parameters(), *conv2.parameters()):
            p.grad = None
        if compact:
            with compact_spike_storage():
                y = conv2(spike2(conv1(spike1(x)) * 2))
        else:
            y = conv2(spike2(conv1(spike1(x)) * 2))
        y.square().sum().backward()
        return [p.grad.clone() for p in (*conv1.parameters(), *conv2.parameters())]

    for a, b in zip(run(False), run(True)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    import mmsdt.snn.kernels.compact_storage as compact
    packed = []
    orig = compact._pack
    monkeypatch.setattr(compact, '_pack', lambda t: packed.append(orig(t)) or packed[-1])
    with compact_spike_storage():
        conv2(spike2(conv1(spike1(x)) * 2)).sum().backward()
    spikes = [p for p in packed if isinstance(p, tuple)]
    assert len(spikes) == 2 and all(p[1].dtype == torch.uint8 for p in spikes)


@pytest.mark.parametrize('rounding', ['half_even', 'half_up'])
def test_spike_rule_in_place_rounding_is_the_same_rule(rounding):
    from mmsdt.snn.spike_rule import round_counts
    u = torch.tensor([0.0, 0.5, 1.5, 2.5, 3.49, 3.5, 4.0], dtype=torch.float64)
    expected = {'half_even': [0, 0, 2, 2, 3, 4, 4], 'half_up': [0, 1, 2, 3, 3, 4, 4]}[rounding]
    assert round_counts(u, rounding).tolist() == expected
    assert round_counts(u.clone(), rounding, inplace=True).tolist() == expected
    with pytest.raises(ValueError, match='rounding must be one of'):
        round_counts(u, 'floor')
