"""mmsdt.ESpikeFormerLarge: sizes, inputs, the SparK mask, layer decay, with_cp, energy."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from mmsdt.models import ESpikeFormerLarge, SpikeDistillClsHead
from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike, SpikeRecorder, SynapticOpCounter, verify_spike_driven

NARROW = dict(embed_dims=(16, 32, 64), depth=2, num_heads=4, rep_conv2=True)


def _classifier(arch=NARROW, num_classes=5, **kwargs):
    backbone = dict(type='mmsdt.ESpikeFormerLarge', arch=arch, **kwargs)
    channels = ESpikeFormerLarge(arch).embed_dims[-1]
    # as a config with default_scope='mmpretrain' builds it, whatever scope an earlier test
    # (or runner) left current: ImageClassifier builds its ClsDataPreprocessor in that scope
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(
            type='mmpretrain.ImageClassifier', backbone=backbone,
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmsdt.SpikeDistillClsHead', num_classes=num_classes,
                      in_channels=channels, max_value=kwargs.get('max_value', 4))))


@pytest.mark.parametrize('arch,expected', [
    # reference sdt_v3_upstream.md §3.1 "Param counts [verified]" (upstream spikformer12_512 /
    # spikformer12_768 instantiated, 1000-class head and head_kd included)
    ('83m', 83_015_952),
    ('171m', 171_740_714),
])
def test_parameter_counts(arch, expected):
    backbone = ESpikeFormerLarge(arch)
    head = SpikeDistillClsHead(num_classes=1000, in_channels=backbone.embed_dims[-1])
    total = sum(p.numel() for m in (backbone, head) for p in m.parameters())
    assert total == expected


def test_upstream_key_names_and_shapes():
    """A hand-listed subset of the upstream names (reference §3.1 "Key naming")."""
    sd = ESpikeFormerLarge('83m').state_dict()
    expected = {
        'downsample1_1.encode_conv.weight': (64, 3, 7, 7),
        'downsample1_1.encode_bn.running_var': (64, ),
        'ConvBlock1_1.0.conv1.0.0.weight': (256, 64, 3, 3),
        'ConvBlock1_1.0.conv1.0.0.bias': (256, ),
        'ConvBlock1_1.0.conv1.0.1.weight': (256, ),
        'ConvBlock2_2.0.conv2.0.0.weight': (256, 1024, 3, 3),
        'downsample3.encode_conv.weight': (512, 256, 3, 3),
        'block3.0.rep_conv.conv1.0.weight': (512, 512, 1),
        'block3.0.rep_conv.conv2.1.running_mean': (512, ),
        'block3.11.attn.q_conv.0.conv1.0.weight': (768, 512, 1),
        'block3.11.attn.q_conv.0.conv2.1.bias': (512, ),
        'block3.5.attn.k_conv.1.weight': (512, ),
        'block3.5.attn.proj_conv.0.conv2.0.weight': (512, 768, 1),
        'block3.3.mlp.fc1_conv.weight': (2048, 512, 1),
        'block3.3.mlp.fc2_conv.bias': (512, ),
        'block3.3.mlp.fc2_bn.weight': (512, ),
        'block3.7.layer_scale1': (512, ),
        'block3.7.layer_scale2': (512, ),
    }
    assert {k: tuple(sd[k].shape) for k in expected} == expected
    assert not any(k.startswith(('downsample4', 'block4', 'head')) for k in sd)
    large = ESpikeFormerLarge('171m').state_dict()
    assert 'block3.0.rep_conv.conv1.0.weight' not in large  # no RepConv2 for the "large" choice
    assert tuple(large['downsample1_1.encode_conv.weight'].shape) == (98, 3, 7, 7)


def test_neurons_take_d_and_rounding():
    model = ESpikeFormerLarge(NARROW, max_value=8)
    neurons = [m for m in model.modules() if isinstance(m, MultiSpike)]
    assert neurons and all(n.max_value == 8 and n.norm == 8 and n.rounding == 'half_up'
                           and not n.include_boundary for n in neurons)
    head = SpikeDistillClsHead(3, 64, max_value=8)
    assert head.head_kd.spike.max_value == 8 and head.head_kd.spike.norm == 1
    # half-up: a potential of exactly 0.5 fires once (half-to-even would not)
    assert float(head.head_kd.spike(torch.tensor([0.5, 2.5]))[1]) == 3.0
    model = ESpikeFormerLarge(NARROW, rounding='half_even')
    assert all(n.rounding == 'half_even' for n in model.modules() if isinstance(n, MultiSpike))
    with pytest.raises(ValueError, match='rounding'):
        ESpikeFormerLarge(NARROW, rounding='floor')


@pytest.mark.parametrize('size', [(224, 224), (384, 384), (64, 96)])
def test_any_multiple_of_16(size):
    arch = dict(embed_dims=(8, 16, 32), depth=1, num_heads=4)
    with torch.no_grad():
        out = ESpikeFormerLarge(arch).eval()(torch.rand(1, 3, *size))
    assert len(out) == 1 and tuple(out[0].shape) == (1, 32, size[0] // 16, size[1] // 16)


def test_other_sizes_are_refused_with_the_shape():
    model = ESpikeFormerLarge(NARROW)
    with pytest.raises(ValueError, match=r'multiples of 16, got shape \(1, 3, 200, 224\)'):
        model(torch.rand(1, 3, 200, 224))
    with pytest.raises(ValueError, match=r'\(2, 4, 6\)'):
        model(torch.rand(2, 3, 64, 96), torch.ones(2, 6, 4, dtype=torch.bool))


def test_bad_arch():
    with pytest.raises(ValueError, match='83m'):
        ESpikeFormerLarge('100m')
    with pytest.raises(ValueError, match='3 ints'):
        ESpikeFormerLarge(dict(embed_dims=(8, 16, 32, 64)))
    with pytest.raises(ValueError, match='unknown keys'):
        ESpikeFormerLarge(dict(embed_dims=(8, 16, 32), depths=3))


@pytest.mark.parametrize('training', [False, True])
def test_masked_pixels_never_reach_active_positions(training, randomise_bn):
    """SparK semantics of the conv stages: changing the pixels of masked patches changes no
    active output of any conv stage, and masked positions are zero."""
    torch.manual_seed(0)
    model = randomise_bn(ESpikeFormerLarge(NARROW)).train(training)
    x = torch.rand(2, 3, 64, 96) * 2
    active = torch.rand(2, 4, 6) > 0.5
    active[:, 0, 0] = True
    active[:, 0, 1] = False
    y = x.clone()
    pixel_mask = active.repeat_interleave(16, 1).repeat_interleave(16, 2).unsqueeze(1)
    y = torch.where(pixel_mask, y, torch.randn_like(y) * 5)

    def stage_outputs(inp):
        outs = []
        hooks = [getattr(model, n).register_forward_hook(lambda m, a, o: outs.append(o))
                 for n in ('downsample1_1', 'downsample2', 'downsample3')]
        hooks += [model.ConvBlock2_2[0].register_forward_hook(lambda m, a, o: outs.append(o))]
        model.forward_conv_stages(inp, active)
        for h in hooks:
            h.remove()
        return outs

    if training:  # identical BN running-stat updates need identical starting points
        state = {k: v.clone() for k, v in model.state_dict().items()}
    a = stage_outputs(x)
    if training:
        model.load_state_dict(state)
    b = stage_outputs(y)
    for oa, ob in zip(a, b):
        m = active.repeat_interleave(oa.shape[-2] // 4, 1).repeat_interleave(
            oa.shape[-1] // 6, 2).unsqueeze(1).expand_as(oa)
        assert torch.equal(oa[m], ob[m])
        assert not oa[~m].any() and not ob[~m].any()
    # without a mask the same pixels do change the outputs
    assert not torch.equal(model.forward_conv_stages(x), model.forward_conv_stages(y))


def test_sparse_bn_counts_only_active_positions():
    model = ESpikeFormerLarge(NARROW).train()
    active = torch.zeros(1, 4, 6, dtype=torch.bool)
    active[0, 1:3, 2:5] = True
    x = torch.rand(1, 3, 64, 96)
    model.forward_conv_stages(x, active)
    bn = model.downsample1_1.encode_bn
    conv_out = model.downsample1_1.encode_conv(x * active.repeat_interleave(16, 1)
                                               .repeat_interleave(16, 2).unsqueeze(1))
    rows = conv_out[:, :, 8:24, 16:40].permute(0, 2, 3, 1).reshape(-1, conv_out.shape[1])
    # stride 2: patches are 8x8 there; running mean after one update (momentum 0.1, from 0)
    # = 0.1 x the mean over the active positions only
    torch.testing.assert_close(bn.running_mean, 0.1 * rows.mean(0).detach())


def test_layer_decay_groups():
    model = _classifier()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        constructor='mmpretrain.LearningRateDecayOptimWrapperConstructor',
        paramwise_cfg=dict(layer_decay_rate=0.75)))
    scale = {g['param_name']: g['lr_scale'] for g in wrapper.optimizer.param_groups}
    depth = NARROW['depth']
    for name, s in scale.items():
        if name.startswith('head.'):
            assert s == 1.0, name
        elif name.startswith('backbone.block3.'):
            i = int(name.split('.')[2])
            assert s == pytest.approx(0.75**(depth - i)), name
        else:
            assert name.startswith('backbone.') and s == pytest.approx(0.75**(depth + 1)), name
    assert scale['backbone.downsample1_1.encode_conv.weight'] == min(scale.values())
    assert scale['backbone.downsample3.encode_bn.bias'] == min(scale.values())
    backbone = ESpikeFormerLarge('83m')
    assert backbone.get_layer_depth('backbone.ConvBlock2_2.0.conv1.0.0.weight',
                                    'backbone.') == (0, 14)
    assert backbone.get_layer_depth('backbone.block3.11.layer_scale2', 'backbone.') == (12, 14)
    assert backbone.get_layer_depth('head.head_kd.weight', 'backbone.') == (13, 14)


def test_with_cp_same_gradients(randomise_bn):
    torch.manual_seed(1)
    a = randomise_bn(ESpikeFormerLarge(NARROW, layer_scale_init_value=0.5))
    b = ESpikeFormerLarge(NARROW, layer_scale_init_value=0.5, with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 32, 48, requires_grad=True)
    grads = []
    for m in (a, b):
        m.train()
        x.grad = None
        m(x)[0].square().sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in m.parameters()])
    for ga, gb in zip(*grads):
        torch.testing.assert_close(ga, gb)


def test_energy_bills_head_as_macs_and_head_kd_as_sops(randomise_bn):
    torch.manual_seed(2)
    model = randomise_bn(_classifier()).eval()
    with torch.no_grad(), SynapticOpCounter(model) as counter:
        model(torch.rand(2, 3, 32, 32) * 2)
    rows = {r['name']: r for r in counter.report(num_images=2).layer_rows()}
    assert rows['head.head']['input'] == 'analog' and rows['head.head']['sops'] == 0
    assert rows['head.head']['macs'] == 64 * 5
    assert rows['head.head_kd']['input'] == 'spikes'
    assert rows['backbone.block3.0.attn.matmul0']['input'] == 'spikes'
    assert rows['backbone.block3.1.mlp.fc2_conv']['input'] == 'spikes'
    assert rows['backbone.downsample1_1.encode_conv']['input'] == 'analog'  # the image


def test_spike_driven_verification_float32(randomise_bn):
    torch.manual_seed(3)
    model = randomise_bn(_classifier()).eval()
    with torch.no_grad():
        report = verify_spike_driven(model, torch.rand(2, 3, 32, 48) * 2)
    assert report.ok() and report.maps > 0


def test_firing_rates_of_every_neuron(randomise_bn):
    torch.manual_seed(4)
    model = randomise_bn(_classifier(max_value=8)).eval()
    with torch.no_grad(), SpikeRecorder(model) as rec:
        model(torch.rand(2, 3, 32, 48) * 2)
    neurons = [n for n, m in model.named_modules() if isinstance(m, MultiSpike)]
    assert sorted(rec.stats) == sorted(neurons) and 'head.head_kd.spike' in rec.stats
    assert all(st.elements > 0 and st.max_value == 8 for st in rec.stats.values())
    assert 0 < rec.stats['backbone.block3.1.attn.q_spike'].firing_rate <= 1
