"""ESpikeFormer with a time axis (B, T, C, H, W): folding, the two neuron modes, no leaks."""
import pytest
import torch

from mmsdt.models import ESpikeFormer
from mmsdt.snn import (MultiSpike, MultiStepIntIF, SpikeRecorder, SynapticOpCounter,
                       current_time_steps, spike_driven, verify_spike_driven)
from mmsdt.snn.kernels import fused_bn_spike as fused

TINY = dict(embed_dims=(8, 16, 16, 32), num_heads=2, depths=(1, 1, 1, 1, 1))


def _pair(randomise_bn, arch=TINY, **kwargs):
    """A stateless and a stateful backbone with the same weights (float64, eval)."""
    torch.manual_seed(0)
    stateless = randomise_bn(ESpikeFormer(arch, in_channels=2, out_indices=(2, 4), **kwargs))
    stateful = ESpikeFormer(arch, in_channels=2, out_indices=(2, 4), neuron_mode='stateful',
                            neuron_cfg=dict(decay=0.9), **kwargs)
    stateful.load_state_dict(stateless.state_dict())
    return stateless.double().eval(), stateful.double().eval()


def _frames(B=2, T=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 3, (B, T, 2, size, size), generator=g).double()


def test_shapes_keys_and_modes():
    model = ESpikeFormer('2.7m', in_channels=2, neuron_mode='stateful')
    outs = model(torch.rand(2, 4, 2, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 24, 16, 16), (2, 48, 8, 8), (2, 96, 4, 4),
                                             (2, 128, 4, 4)]
    assert current_time_steps() is None  # nothing outlives the forward
    neurons = [m for m in model.modules() if isinstance(m, MultiSpike)]
    assert neurons and all(type(m) is MultiStepIntIF for m in neurons)
    default = ESpikeFormer('2.7m', in_channels=2)
    assert all(type(m) is MultiSpike for m in default.modules() if isinstance(m, MultiSpike))
    assert list(model.state_dict()) == list(default.state_dict())
    assert default.downsample1_1.encode_conv.weight.shape == (12, 2, 7, 7)


def test_bad_input_and_config_are_named():
    model = ESpikeFormer(TINY)
    with pytest.raises(ValueError, match=r'\(B, T, C, H, W\).*\(3, 32, 32\)'):
        model(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match='neuron_mode'):
        ESpikeFormer(TINY, neuron_mode='lif')
    with pytest.raises(ValueError, match="only to neuron_mode='stateful'"):
        ESpikeFormer(TINY, neuron_cfg=dict(decay=0.5))
    with pytest.raises(ValueError, match='tau'):
        ESpikeFormer(TINY, neuron_mode='stateful', neuron_cfg=dict(tau=2.0))


def test_stateless_frames_equal_per_frame_outputs_averaged(randomise_bn):
    """The paper's DVS semantics: each frame independent, the average over T at the end."""
    stateless, _ = _pair(randomise_bn)
    x = _frames()
    with torch.no_grad():
        outs = stateless(x)
        per_frame = [stateless(x[:, t]) for t in range(x.shape[1])]
    for i, out in enumerate(outs):
        ref = torch.stack([p[i] for p in per_frame]).mean(0)
        assert (out - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_stateful_t1_equals_stateless_images(randomise_bn):
    stateless, stateful = _pair(randomise_bn)
    x = _frames(T=1)
    with torch.no_grad():
        ref = stateless(x[:, 0])
        for out, r in zip(stateful(x), ref):
            assert torch.equal(out, r)
        for out, r in zip(stateful(x[:, 0]), ref):  # no time axis at all
            assert torch.equal(out, r)


def test_stateful_state_stays_within_each_sample(randomise_bn):
    """T-major folding: sample b's output does not depend on the other samples (eval), and
    state changes the result (it is not the stateless model)."""
    stateless, stateful = _pair(randomise_bn)
    x = _frames(B=3, T=4)
    with torch.no_grad():
        batch = stateful(x)
        alone = stateful(x[1:2])
        other = stateless(x)
    for b, a in zip(batch, alone):
        assert (b[1:2] - a).abs().max() <= 1e-12 * a.abs().max()
    assert any((s - o).abs().max() > 1e-6 for s, o in zip(batch, other))


def test_nothing_leaks_between_forward_calls(randomise_bn):
    _, stateful = _pair(randomise_bn)
    x, y = _frames(seed=1), _frames(seed=2)
    with torch.no_grad():
        first = stateful(x)
        stateful(y)
        stateful(y[:, 0])  # an image batch in between
        again = stateful(x)
    for a, b in zip(first, again):
        assert torch.equal(a, b)


@pytest.mark.parametrize('mode', ['stateless', 'stateful'])
def test_spike_driven_equality_with_time_in_float64(randomise_bn, mode):
    stateless, stateful = _pair(randomise_bn)
    model = stateless if mode == 'stateless' else stateful
    x = _frames(T=3, size=40)
    with torch.no_grad():
        ref = model(x)
        with SpikeRecorder(model) as rec, spike_driven(model):
            outs = model(x)
    for r, o in zip(ref, outs):
        assert (o - r).abs().max() <= 1e-12 * r.abs().max()
    assert all(st.time_steps == 3 for st in rec.stats.values())
    rates = [s.firing_rate for s in rec.stats.values()]
    assert 0.01 < sum(rates) / len(rates) < 0.99
    report = verify_spike_driven(model, x)
    assert report.ok(rtol=1e-12) and report.total_tie_flips == 0


def test_energy_counts_sum_over_time_and_divide_by_samples(randomise_bn):
    """SOPs with T frames = the sum of the SOPs of the frames run one by one (stateless), and
    the per-image figure divides by B."""
    stateless, _ = _pair(randomise_bn)
    x = _frames(B=2, T=3)
    with torch.no_grad(), SynapticOpCounter(stateless) as counter:
        stateless(x)
    report = counter.report(num_images=2)
    assert report.time_steps == 3 and 'summed over T = 3' in report.describe()
    with torch.no_grad(), SynapticOpCounter(stateless) as frames:
        for t in range(3):
            stateless(x[:, t])
    per_frame = frames.report(num_images=2)
    assert per_frame.time_steps == 1
    total, ref = report.totals()['total'], per_frame.totals()['total']
    assert total['sops'] == pytest.approx(ref['sops'], rel=1e-12) and total['sops'] > 0
    assert total['ann_macs'] == pytest.approx(ref['ann_macs'], rel=1e-12)


def test_training_with_time_default_path_uses_the_fused_kernels(randomise_bn,
                                                                fuse_small_tensors):
    model = ESpikeFormer(TINY, in_channels=2).train()
    before = fused.kernel_calls().get('bn_spike_forward', {'compiled': 0, 'eager': 0})
    sum(o.square().mean() for o in model(torch.rand(2, 3, 2, 32, 32))).backward()
    after = fused.kernel_calls()['bn_spike_forward']
    assert after['compiled'] > before['compiled'] and after['eager'] == before['eager']


def test_stateful_training_gradients_and_with_cp(randomise_bn):
    x = _frames(T=3).requires_grad_()
    grads = {}
    for flag in (True, False):
        torch.manual_seed(0)
        model = ESpikeFormer(TINY, in_channels=2, neuron_mode='stateful', with_cp=flag)
        model = randomise_bn(model).double().train()
        x.grad = None
        sum(o.square().sum() for o in model(x)).backward()
        grads[flag] = [x.grad.clone()] + [p.grad for p in model.parameters()]
    assert grads[False][0].abs().sum() > 0
    for a, b in zip(grads[True], grads[False]):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_layer_scale_keys_and_init():
    model = ESpikeFormer(TINY, in_channels=2, layer_scale_init_value=1e-6)
    keys = [k for k in model.state_dict() if 'layer_scale' in k]
    assert keys == [f'block{s}.0.layer_scale{i}' for s in (3, 4) for i in (1, 2, 3)]
    assert torch.equal(model.block3[0].layer_scale2, torch.full((16, ), 1e-6))
    assert not [k for k in ESpikeFormer(TINY).state_dict() if 'layer_scale' in k]


def test_stem_adapter_loads_an_rgb_checkpoint_into_a_two_channel_stem(tmp_path):
    from mmsdt.models.backbones.e_spikeformer_converter import (load_backbone_checkpoint,
                                                                save_released_format)
    from mmsdt.utils import CheckpointError
    torch.manual_seed(0)
    rgb = ESpikeFormer(TINY)
    path = str(tmp_path / 'imagenet.pth')
    save_released_format(rgb, path)
    dvs = ESpikeFormer(TINY, in_channels=2, layer_scale_init_value=1e-6)
    with pytest.raises(CheckpointError, match=r"encode_conv.weight.*\(4, 3, 7, 7\).*"
                       r"\(4, 2, 7, 7\).*stem_adapter='mean'"):
        load_backbone_checkpoint(dvs, path)
    report = load_backbone_checkpoint(dvs, path, stem_adapter='mean')
    assert list(report.adapted) == ['downsample1_1.encode_conv.weight']
    assert sorted(k for k in report.missing_allowed if 'layer_scale' in k) == sorted(
        f'block{s}.0.layer_scale{i}' for s in (3, 4) for i in (1, 2, 3))
    src, dst = rgb.state_dict(), dvs.state_dict()
    for k, v in src.items():
        if k != 'downsample1_1.encode_conv.weight':
            assert torch.equal(dst[k], v), k
    # the total gain is kept: an input equal in both channels gives the RGB stem's response
    # to a grey image of that value
    grey = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    conv_rgb, conv_dvs = rgb.downsample1_1.encode_conv, dvs.downsample1_1.encode_conv
    torch.testing.assert_close(conv_dvs.double()(grey.expand(1, 2, 16, 16)),
                               conv_rgb.double()(grey.expand(1, 3, 16, 16)))
    # every other key stays strict
    sd = torch.load(path, weights_only=False)
    del sd['model']['block3.0.attn.q_conv.0.weight']
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match='block3.0.attn.q_conv.0.weight'):
        load_backbone_checkpoint(ESpikeFormer(TINY, in_channels=2), path, stem_adapter='mean')


def test_stem_adapter_through_init_cfg(tmp_path):
    from mmsdt.models.backbones.e_spikeformer_converter import save_released_format
    torch.manual_seed(0)
    rgb = ESpikeFormer(TINY)
    path = str(tmp_path / 'imagenet.pth')
    save_released_format(rgb, path)
    dvs = ESpikeFormer(TINY, in_channels=2, init_cfg=dict(type='Pretrained', checkpoint=path,
                                                          stem_adapter='mean'))
    dvs.init_weights()
    expected = rgb.downsample1_1.encode_conv.weight.mean(1, keepdim=True).expand(-1, 2, -1,
                                                                                 -1) * 1.5
    torch.testing.assert_close(dvs.downsample1_1.encode_conv.weight.detach(), expected)
