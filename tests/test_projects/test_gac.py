"""projects/gac: the multi-step LIF, the GAC encoder's invariants (reference gac.md §5),
exact parameter counts and a learning step (the checkpoint converter: test_gac_convert.py)."""
import pytest
import torch

from projects.gac.gac import (GatedAttentionEncoder, MSResNet, MultiStepLIF, TimeAveragedClsHead,
                              surrogate_grad)


def _count(*modules):
    return sum(p.numel() for m in modules for p in m.parameters())


# ----------------------------------------------------------------------------- neuron
def test_lif_dynamics_by_hand():
    lif = MultiStepLIF('cifar')  # decay 0.5, V_th 1.0, hard reset
    x = torch.tensor([1.2, 0.6, 0.6, 0.9]).view(4, 1)
    # u: 1.2 (spike, reset) -> 0.6 -> 0.5*0.6+0.6 = 0.9 -> 0.45+0.9 = 1.35 (spike)
    assert lif(x).flatten().tolist() == [1., 0., 0., 1.]
    lif = MultiStepLIF('imagenet')  # decay 0.25, V_th 0.5; exactly at threshold: no spike
    x = torch.tensor([0.5, 0.4, 0.2]).view(3, 1)
    # u: 0.5 (not > 0.5) -> 0.125+0.4 = 0.525 (spike) -> 0 + 0.2
    assert lif(x).flatten().tolist() == [0., 1., 0.]


@pytest.mark.parametrize('preset, points', [
    ('cifar', [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (1.5, 0.5), (2.0, 0.0), (2.5, 0.0)]),
    ('imagenet', [(0.0, 0.0), (0.01, 1.0), (0.5, 1.0), (0.99, 1.0), (1.0, 0.0), (-0.2, 0.0)]),
])
def test_surrogate_gradient_matches_the_analytic_shape(preset, points):
    """triangle (1/g^2) max(0, g - |u - V|) with g = 1, V = 1; rectangle 1{|u - 0.5| < 0.5}."""
    lif = MultiStepLIF(preset)
    for u, want in points:
        x = torch.tensor([[u]], requires_grad=True)  # one step: the spike of u itself
        lif(x).sum().backward()
        assert x.grad.item() == pytest.approx(want, abs=1e-7), (preset, u)
    v = torch.linspace(-2, 2, 41)
    assert torch.equal(surrogate_grad(v, 'triangle', 2.0), (2.0 - v.abs()).clamp_min(0) / 4)


def test_detached_reset_changes_only_the_gradient():
    x = torch.tensor([[1.5], [0.8]], requires_grad=True)
    grads = {}
    for detach in (False, True):
        lif = MultiStepLIF('cifar', detach_reset=detach)
        out = lif(x)
        assert out.flatten().tolist() == [1., 0.]
        (g, ) = torch.autograd.grad(out[1].sum(), x)
        grads[detach] = g[0].item()
    # u2 = 0.5 * u1 * (1 - s1) + x2; through the reset d u2 / d x1 gains -0.5 * u1 * ds1/du1
    assert grads[True] == 0.0 and grads[False] != 0.0


def test_lif_preset_errors():
    with pytest.raises(ValueError, match='preset'):
        MultiStepLIF('cifar10')
    with pytest.raises(ValueError, match='needs'):
        MultiStepLIF(None, decay=0.5)


# ----------------------------------------------------------------------------- encoder
def _encoder(T=4, **kw):
    torch.manual_seed(0)
    enc = GatedAttentionEncoder(embed_dims=16, time_steps=T, **kw)
    with torch.no_grad():  # BN statistics that make the LIF fire, an active TA hidden layer
        enc.bn.weight.fill_(1.5)
        enc.bn.bias.fill_(0.5)
        if hasattr(enc, 'ta_fc1'):
            enc.ta_fc1.weight.abs_()
    return enc.eval()


def test_encoder_shapes_and_layouts():
    enc = _encoder()
    assert enc(torch.randn(2, 3, 32, 32)).shape == (4, 2, 16, 32, 32)
    assert enc(torch.randn(1, 3, 33, 47)).shape == (4, 1, 16, 33, 47)  # even-k "same" pad
    events = torch.randn(4, 2, 3, 16, 16)
    out = enc(events)
    assert out.shape == (4, 2, 16, 16, 16)
    assert not torch.equal(out[0], out[1])  # not repeated: each step its own input
    with pytest.raises(ValueError, match='T=3 .*time_steps=4'):
        enc(torch.randn(3, 2, 3, 16, 16))
    with pytest.raises(ValueError, match='shape'):
        enc(torch.randn(3, 16, 16))


def test_encoder_value_invariants():
    enc = _encoder()
    x = torch.randn(2, 3, 20, 24)
    with torch.no_grad():
        current = enc.current(x)
        spikes = enc.lif(current)
        out = enc(x)
        gate = enc.gate(x)
        ta = enc.temporal_attention(current)
        sca = enc.spatial_channel_attention(current)
    assert 0.05 < spikes.mean() < 0.95  # the LIF fires, not always
    assert torch.all(out[spikes == 0] == 0)
    assert torch.all((out >= 0) & (out <= spikes))
    assert torch.all((gate > 0) & (gate < 1))
    assert torch.equal(out, gate * spikes)
    # a static image: SCA identical over t, TA differs over t (per-step MLP weights)
    assert all(torch.equal(sca[t], sca[0]) for t in range(4))
    assert not torch.allclose(ta[0], ta[1])


def test_constant_and_zeroed_gates_reduce_to_direct_coding():
    x = torch.randn(2, 3, 16, 16)
    learned = _encoder()
    constant = _encoder(gate='constant')
    constant.load_state_dict(learned.state_dict(), strict=False)
    with torch.no_grad():
        spikes = learned.lif(learned.current(x))
        assert torch.equal(constant(x), spikes)  # LIF(BN(conv(x))) bit for bit
        learned.ta_fc2.weight.zero_()
        assert torch.equal(learned(x), 0.5 * spikes)
        learned.ta_fc2.weight.normal_()
        learned.sca_conv2.weight.zero_()
        assert torch.equal(learned(x), 0.5 * spikes)
    none = _encoder(gate='none')
    assert not hasattr(none, 'lif') and _count(none) == _count(learned.conv, learned.bn)
    with torch.no_grad():
        assert torch.equal(none(x), learned.current(x))  # the direct-coding baseline


def test_gradients_reach_stem_bn_ta_and_sca():
    enc = _encoder().train()
    enc(torch.randn(2, 3, 16, 16)).sum().backward()
    for name in ('conv.weight', 'bn.weight', 'bn.bias', 'ta_fc1.weight', 'ta_fc2.weight',
                 'sca_conv1.weight', 'sca_conv2.weight'):
        grad = dict(enc.named_parameters())[name].grad
        assert grad is not None and grad.isfinite().all() and grad.abs().sum() > 0, name


def test_one_time_step_works():
    enc = _encoder(T=1)
    assert enc.ta_fc1.out_features == 1  # official T // 2 = 0 crashes
    assert enc(torch.randn(2, 3, 8, 8)).shape == (1, 2, 16, 8, 8)


def test_encoder_parameter_count():
    enc = GatedAttentionEncoder(embed_dims=64, time_steps=4)
    # docs/reference_numbers.md: gac-encoder
    assert _count(enc) - _count(enc.conv, enc.bn) == 131_088  # 2 C^2 k^2 + 2 T (T // 2)


# ----------------------------------------------------------------------------- models
@pytest.mark.parametrize('arch, T, classes, gate, want', [
    # docs/reference_numbers.md: gac-cifar18, gac-imagenet
    ('cifar18', 6, 10, 'none', 12_502_090),
    ('cifar18', 6, 10, 'learned', 12_633_198),
    ('imagenet18', 4, 1000, 'learned', 11_824_824),
    ('imagenet34', 4, 1000, 'learned', 21_932_984),
])
def test_parameter_counts_match_the_official_models(arch, T, classes, gate, want,
                                                    mmpretrain_scope):
    neuron = 'cifar' if arch.startswith('cifar') else 'imagenet'
    backbone = MSResNet(arch, time_steps=T, neuron=neuron, encoder=dict(gate=gate))
    head = TimeAveragedClsHead(classes, backbone.out_channels, neuron=neuron)
    assert _count(backbone, head) == want


def test_backbone_and_head_shapes_and_a_learning_step(mmpretrain_scope):
    torch.manual_seed(0)
    arch = dict(stem='cifar', stem_channels=8, widths=(8, 16), depths=(1, 1), strides=(1, 2))
    backbone = MSResNet(arch, time_steps=2)
    head = TimeAveragedClsHead(3, backbone.out_channels,
                               loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
    x, y = torch.randn(8, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    feats = backbone(x)
    assert feats[0].shape == (2, 8, 16, 8, 8)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(head(backbone(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    backbone.eval(), head.eval()
    with torch.no_grad():
        assert torch.equal(head(backbone(x)), head(backbone(x)))  # eval is deterministic


# ----------------------------------------------------------------------------- energy
def test_energy_report_counts_sops_over_all_time_steps():
    """The LIF's binary outputs are spikes for mmsdt's counter: the block convs they feed are
    billed as SOPs summed over the T steps; the stem, the SCA convs and the shortcut convs
    (fed by the real-valued stream, the first by the gated encoder output) as MACs."""
    from mmsdt.snn import SynapticOpCounter
    from mmsdt.snn.energy import conv_fanout_sum
    torch.manual_seed(0)
    arch = dict(stem='cifar', stem_channels=4, widths=(8, 16), depths=(1, 1), strides=(1, 2))
    model = MSResNet(arch, time_steps=3).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.fill_(2.0)
                m.bias.fill_(0.5)
    spikes = []
    model.layers[1][0].lif1.register_forward_hook(lambda m, i, o: spikes.append(o))
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad(), SynapticOpCounter(model) as counter:
        model(x)
    rows = {r['name']: r for r in counter.report(num_images=2).layer_rows()}
    for name in ('encoder.conv', 'encoder.sca_conv1', 'encoder.sca_conv2',
                 'layers.0.0.downsample.0', 'layers.1.0.downsample.0'):
        assert rows[name]['input'] == 'analog' and rows[name]['sops'] == 0, name
    assert rows['layers.0.0.conv1']['input'] == 'spikes'
    conv1 = rows['layers.1.0.conv1']
    assert conv1['input'] == 'spikes' and conv1['input_shape'] == [6, 8, 12, 12]  # T*B
    s = spikes[0].flatten(0, 1).double()
    assert 0 < s.mean() < 1
    want = conv_fanout_sum(model.layers[1][0].conv1, s) / 2  # per image, all 3 steps
    assert conv1['sops'] == pytest.approx(want)
    assert conv1['mean_count'] == pytest.approx(float(s.mean()))
