"""ESpikeFormerLarge + SpikeDistillClsHead against an independent functional re-implementation
of the upstream semantics (reference sdt_v3_upstream.md §1.1, §3.1), in float64.

The functional model below reads the weights by their upstream names and computes:
neuron ``floor(clamp(u, 0, D) + 0.5) / D`` (``/ 1`` before ``head_kd``); eval-mode BN;
conv stages 7x7 s2 stem -> ConvBlock1_1 -> 3x3 s2 -> ConvBlock1_2 -> 3x3 s2 -> ConvBlock2_1,
ConvBlock2_2 -> 3x3 s2; 12 (here 2) blocks on tokens with the optional RepConv2 branch,
``q (k^T v) * 0.125`` per head, layer scales; ``(head(mean) + head_kd(S(mean))) / 2``.
"""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from mmsdt.registry import MODELS
from mmsdt.snn import verify_spike_driven

ARCH = dict(embed_dims=(16, 32, 64), depth=2, num_heads=4, rep_conv2=True)
HEADS = 4


def _spike(u, D, norm=None):
    return torch.floor(torch.clamp(u, 0, D) + 0.5) / (D if norm is None else norm)


def _bn(w, name, x):
    shape = (1, -1) + (1, ) * (x.dim() - 2)
    mean, var = w[f'{name}.running_mean'].view(shape), w[f'{name}.running_var'].view(shape)
    return (x - mean) / torch.sqrt(var + 1e-5) * w[f'{name}.weight'].view(shape) + \
        w[f'{name}.bias'].view(shape)


def _downsample(w, name, x, D, stride, padding, first=False):
    if not first:
        x = _spike(x, D)
    x = F.conv2d(x, w[f'{name}.encode_conv.weight'], w[f'{name}.encode_conv.bias'], stride,
                 padding)
    return _bn(w, f'{name}.encode_bn', x)


def _conv_block(w, name, x, D):
    h = F.conv2d(_spike(x, D), w[f'{name}.conv1.0.0.weight'], w[f'{name}.conv1.0.0.bias'],
                 padding=1)
    h = _bn(w, f'{name}.conv1.0.1', h)
    h = F.conv2d(_spike(h, D), w[f'{name}.conv2.0.0.weight'], w[f'{name}.conv2.0.0.bias'],
                 padding=1)
    return x + _bn(w, f'{name}.conv2.0.1', h)


def _conv1d(w, name, x):
    return torch.einsum('oc,bcn->bon', w[f'{name}.weight'][..., 0], x) + (
        w[f'{name}.bias'].view(1, -1, 1) if f'{name}.bias' in w else 0)


def _rep(w, name, x):
    """Conv1d + BN1d, twice (upstream RepConv / RepConv2)."""
    x = _bn(w, f'{name}.conv1.1', _conv1d(w, f'{name}.conv1.0', x))
    return _bn(w, f'{name}.conv2.1', _conv1d(w, f'{name}.conv2.0', x))


def _block(w, name, x, D):
    B, C, N = x.shape
    if f'{name}.rep_conv.conv1.0.weight' in w:
        x = x + _rep(w, f'{name}.rep_conv', _spike(x, D))
    s = _spike(x, D)
    qkv = [_spike(_bn(w, f'{name}.attn.{n}_conv.1', _rep(w, f'{name}.attn.{n}_conv.0', s)), D)
           for n in 'qkv']
    q, k, v = (t.reshape(B, HEADS, C // HEADS, N) for t in qkv)  # (B, h, d, N)
    # out[b, h, d, n] = 0.125 * sum_m sum_e q[b, h, e, n] k[b, h, e, m] v[b, h, d, m]
    attn = torch.einsum('bhen,bhem,bhdm->bhdn', q, k, v).reshape(B, C, N) * 0.125
    attn = _bn(w, f'{name}.attn.proj_conv.1', _rep(w, f'{name}.attn.proj_conv.0',
                                                   _spike(attn, D)))
    x = x + w[f'{name}.layer_scale1'].view(1, -1, 1) * attn
    h = _bn(w, f'{name}.mlp.fc1_bn', _conv1d(w, f'{name}.mlp.fc1_conv', _spike(x, D)))
    h = _bn(w, f'{name}.mlp.fc2_bn', _conv1d(w, f'{name}.mlp.fc2_conv', _spike(h, D)))
    return x + w[f'{name}.layer_scale2'].view(1, -1, 1) * h


def reference_logits(w, x, D, depth):
    """Eval-mode logits of the upstream model with upstream-named weights ``w``."""
    x = _downsample(w, 'downsample1_1', x, D, 2, 3, first=True)
    x = _conv_block(w, 'ConvBlock1_1.0', x, D)
    x = _downsample(w, 'downsample1_2', x, D, 2, 1)
    x = _conv_block(w, 'ConvBlock1_2.0', x, D)
    x = _downsample(w, 'downsample2', x, D, 2, 1)
    x = _conv_block(w, 'ConvBlock2_1.0', x, D)
    x = _conv_block(w, 'ConvBlock2_2.0', x, D)
    x = _downsample(w, 'downsample3', x, D, 2, 1).flatten(2)
    for i in range(depth):
        x = _block(w, f'block3.{i}', x, D)
    mean = x.mean(2)
    logits = F.linear(mean, w['head.weight'], w['head.bias'])
    logits_kd = F.linear(_spike(mean, D, norm=1), w['head_kd.weight'], w['head_kd.bias'])
    return (logits + logits_kd) / 2


def _model(D, randomise_bn, seed):
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as a config would
        model = MODELS.build(dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=ARCH, max_value=D),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmsdt.SpikeDistillClsHead', num_classes=7, in_channels=64,
                      max_value=D)))
    randomise_bn(model, seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'layer_scale' in name or name.startswith('head.'):
                p.uniform_(0.3, 1.2) if 'layer_scale' in name else p.normal_(0, 0.5)
    return model.double().eval()


def _upstream_weights(model):
    """Our classifier's weights under the upstream names (backbone keys unprefixed,
    ``head.head.*`` -> ``head.*``, ``head.head_kd.*`` -> ``head_kd.*``)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith('backbone.'):
            out[k[len('backbone.'):]] = v
        elif k.startswith('head.'):
            out[k[len('head.'):]] = v
    return out


@pytest.mark.parametrize('D', [4, 8])
def test_logits_equal_reference_semantics_float64(D, randomise_bn):
    model = _model(D, randomise_bn, seed=D)
    torch.manual_seed(10 + D)
    x = torch.rand(3, 3, 64, 96, dtype=torch.float64) * 3 - 0.5
    with torch.no_grad():
        ours = model(x)
        ref = reference_logits(_upstream_weights(model), x, D, ARCH['depth'])
    assert ours.shape == (3, 7)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    # the neurons fire several counts (a model whose spikes are all 0 would prove little)
    assert ref.abs().max() > 0.1


def test_rounding_mode_matters_to_the_reference(randomise_bn):
    """The half-up reference differs from the same weights with half-to-even neurons on
    inputs at exact ties (so the comparison above can detect the rounding)."""
    model = _model(4, randomise_bn, seed=3)
    head = model.head
    mean = torch.full((1, 64), 2.5, dtype=torch.float64)
    up = head.head_kd(mean)
    head.head_kd.spike.rounding = 'half_even'
    assert not torch.equal(up, head.head_kd(mean))


@pytest.mark.parametrize('D', [4, 8])
def test_spike_driven_equals_integer_mode_float64(D, randomise_bn):
    model = _model(D, randomise_bn, seed=20 + D)
    x = torch.rand(2, 3, 32, 48, dtype=torch.float64) * 3 - 0.5
    with torch.no_grad():
        report = verify_spike_driven(model, x, tie_tol=1e-9)
    assert report.ok(rtol=1e-12), report
    assert report.spike_inputs > 0 and report.maps > 0 and report.untied_flips == 0


def test_fused_rep_convs_compute_the_same_and_are_spike_driven(randomise_bn):
    """RepConv.fuse (deployment): the same logits in float64, every conv of the blocks fed by
    spikes (only the stem and ``head`` stay analog), spike-driven mode still verified."""
    from mmsdt.snn import SynapticOpCounter
    model = _model(4, randomise_bn, seed=31)
    x = torch.rand(2, 3, 32, 48, dtype=torch.float64) * 3 - 0.5
    with torch.no_grad():
        before = model(x)
        assert model.backbone.fuse_rep_convs() == ARCH['depth'] * 5  # q, k, v, proj, rep_conv
        after = model(x)
    torch.testing.assert_close(after, before, rtol=0, atol=1e-12)
    assert not any('conv1.0' in k for k in model.state_dict() if 'attn' in k)
    with torch.no_grad(), SynapticOpCounter(model) as counter:
        model(x)
    analog = [r['name'] for r in counter.report(2).layer_rows() if r['input'] == 'analog']
    assert analog == ['backbone.downsample1_1.encode_conv', 'head.head']
    with torch.no_grad():
        assert verify_spike_driven(model, x, tie_tol=1e-9).ok(rtol=1e-12)
