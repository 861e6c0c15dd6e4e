import math

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmsdt.models import ESpikeFormer
from mmsdt.snn import MultiSpike, SpikeRecorder, spike_driven
from mmsdt.snn import use_fused_kernels
from mmsdt.snn.kernels import fused_bn_spike as fused

ARCHS = ['2.7m', '5.1m', '10m', '19m']
# docs/reference_numbers.md: params-2.7m, params-5.1m, params-10m, params-19m
PARAMS_WITH_HEAD = [2_702_048, 5_105_608, 10_023_112, 18_987_504]
PARAMS_NO_HEAD = [2_573_048, 4_912_608, 9_782_112, 18_626_504]


def _count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('arch, with_head, without_head',
                         list(zip(ARCHS, PARAMS_WITH_HEAD, PARAMS_NO_HEAD)))
def test_parameter_counts_match_the_paper_models(arch, with_head, without_head):
    """The released ImageNet models: the backbone plus the 1000-class SpikeLinearClsHead."""
    from mmsdt.models import SpikeLinearClsHead
    backbone = ESpikeFormer(arch)
    head = SpikeLinearClsHead(num_classes=1000, in_channels=backbone.embed_dims[-1])
    assert _count(backbone) == without_head
    assert _count(backbone) + _count(head) == with_head


def test_num_classes_points_to_the_classification_head():
    """One head implementation: the backbone refuses a classifier and names the one to use."""
    for value in (1000, 0):
        with pytest.raises(TypeError, match='SpikeLinearClsHead'):
            ESpikeFormer('2.7m', num_classes=value)
    assert not hasattr(ESpikeFormer('2.7m'), 'head')


def test_state_dict_keys_are_the_released_ones():
    """603 backbone keys for 19m, 605 with the ImageNet head (reference §2.4); the neurons add
    none, so renaming one (the attention's ``input_spike``, upstream ``head_spike``) changes
    no key."""
    model = ESpikeFormer('19m')
    keys = list(model.state_dict())
    # docs/reference_numbers.md: keys-19m
    assert len(keys) == 603 and sum(k.endswith('num_batches_tracked') for k in keys) == 97
    assert not [k for k in keys if 'spike' in k]
    assert isinstance(model.block3[0].attn.input_spike, MultiSpike)
    assert not hasattr(model.block3[0].attn, 'head_spike')
    from mmsdt.models import SpikeLinearClsHead
    from mmsdt.models.backbones.e_spikeformer_converter import released_state_dict
    head = SpikeLinearClsHead(num_classes=1000, in_channels=360)
    # the head's neuron adds no key either: 2 more, head.weight / head.bias when released
    assert list(released_state_dict(model, head)) == keys + ['head.weight', 'head.bias']


def test_forward_stages_returns_every_stage_output():
    model = ESpikeFormer('2.7m', out_indices=(1, 3)).eval()
    assert model.num_stages == 5
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        stages = model.forward_stages(x)
        outs = model(x)
    assert [s.shape[1] for s in stages] == [12, 24, 48, 96]  # stops after stage 3
    assert torch.equal(outs[0], stages[1]) and torch.equal(outs[1], stages[3])


def test_unknown_arch_lists_valid_names():
    with pytest.raises(ValueError, match=r"'10m', '19m', '2.7m', '5.1m'"):
        ESpikeFormer('30m')
    with pytest.raises(ValueError, match='embed_dims'):
        ESpikeFormer(dict(embed_dims=(8, 16)))


def test_custom_arch_dict():
    model = ESpikeFormer(dict(embed_dims=(8, 16, 16, 32), num_heads=2, depths=(1, 1, 1, 1, 1)))
    outs = model(torch.rand(1, 3, 32, 32))
    assert [o.shape[1] for o in outs] == [8, 16, 16, 32]
    assert len(model.block3) == 1 and len(model.ConvBlock2_1) == 1 and not model.ConvBlock2_2


@pytest.mark.parametrize('size', [(224, 224), (513, 381)])
def test_five_stages_shapes_and_strides(size):
    model = ESpikeFormer('2.7m', out_indices=(0, 1, 2, 3, 4)).eval()
    H, W = size
    with torch.no_grad():
        outs = model(torch.rand(1, 3, H, W))
    assert model.out_strides == (2, 4, 8, 16, 16)
    assert model.out_channels == (12, 24, 48, 96, 128)
    for out, stride, ch in zip(outs, model.out_strides, model.out_channels):
        assert out.shape == (1, ch, math.ceil(H / stride), math.ceil(W / stride))


def test_default_out_indices_and_stage4_stride_option():
    model = ESpikeFormer('2.7m')
    assert model.out_indices == (1, 2, 3, 4) and model.out_strides == (4, 8, 16, 16)
    s32 = ESpikeFormer('2.7m', out_indices=(-2, -1), stage4_stride=2)
    assert s32.out_indices == (3, 4) and s32.out_strides == (16, 32)
    outs = s32(torch.rand(1, 3, 96, 64))
    assert [tuple(o.shape[2:]) for o in outs] == [(6, 4), (3, 2)]
    # same weights as the stride-16 model
    assert {k: v.shape for k, v in s32.state_dict().items()} == \
        {k: v.shape for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match='outside'):
        ESpikeFormer('2.7m', out_indices=(5, ))


def test_stem_stride_for_small_images():
    model = ESpikeFormer('2.7m', out_indices=(0, 1, 2, 3, 4), stem_stride=1)
    assert model.out_strides == (1, 2, 4, 8, 8)
    outs = model(torch.rand(1, 3, 32, 32))
    assert [tuple(o.shape[2:]) for o in outs] == [(32, 32), (16, 16), (8, 8), (4, 4), (4, 4)]
    assert model.downsample1_1.encode_conv.stride == (1, 1)
    paper = ESpikeFormer('2.7m')
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in paper.state_dict().items()}  # released weights still load
    with pytest.raises(ValueError, match='stem_stride'):
        ESpikeFormer('2.7m', stem_stride=4)


def test_layer_depth_orders_stem_blocks_and_head():
    model = ESpikeFormer('2.7m')
    # docs/reference_numbers.md: layers
    assert model.num_layers == 13  # stem + 1 + 1 + 2 + 6 + 2 blocks
    depth = model.get_layer_depth
    assert depth('downsample1_1.encode_conv.weight') == (0, 14)
    assert depth('ConvBlock1_1.0.conv1.weight') == (1, 14)
    assert depth('downsample1_2.encode_bn.bias') == (2, 14)  # with the block after it
    assert depth('ConvBlock1_2.0.bn2.weight') == (2, 14)
    assert depth('ConvBlock2_1.0.conv1.weight') == (3, 14)
    assert depth('ConvBlock2_2.0.conv1.weight') == (4, 14)
    assert depth('block3.0.attn.q_conv.0.weight') == (5, 14)
    assert depth('block3.5.mlp.fc2_conv.bias') == (10, 14)
    assert depth('downsample4.encode_conv.weight') == (11, 14)
    assert depth('block4.1.mlp.fc2_bn.weight') == (12, 14)
    assert depth('neck.weight') == (13, 14)  # not a backbone parameter: the head's id
    # mmpretrain's prefixed call from ImageClassifier: outside the prefix = the cls head
    assert depth('backbone.block4.1.attn.v_conv.0.weight', 'backbone.') == (12, 14)
    assert depth('head.fc.weight', 'backbone.') == (13, 14)
    # every parameter gets an id, monotone in forward order
    ids = [depth(n)[0] for n, _ in model.named_parameters()]
    assert ids == sorted(ids) and set(ids) == set(range(13))


def test_layer_wise_lr_decay_with_mmpretrain_constructor(mmpretrain_scope):
    from mmpretrain.registry import MODELS, OPTIM_WRAPPER_CONSTRUCTORS
    clf = MODELS.build(dict(
        type='ImageClassifier',
        backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(4, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=5, in_channels=128)))
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='LearningRateDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=0.5, flat_decay_mult=0.0)))
    groups = {g['param_name']: g for g in constructor(clf).optimizer.param_groups}
    assert groups['head.fc.weight']['lr'] == pytest.approx(1e-3)
    assert groups['backbone.block4.1.mlp.fc1_conv.weight']['lr'] == pytest.approx(5e-4)
    assert groups['backbone.downsample1_1.encode_conv.weight']['lr'] == pytest.approx(
        1e-3 * 0.5**13)
    assert groups['backbone.block3.0.attn.q_conv.1.weight']['weight_decay'] == 0.0  # 1-D
    assert groups['backbone.block3.0.attn.q_conv.0.weight']['weight_decay'] == 0.05


@pytest.mark.parametrize('arch', ARCHS)
def test_spike_driven_mode_equals_integer_mode(arch, randomise_bn):
    torch.manual_seed(0)
    model = ESpikeFormer(arch, out_indices=(0, 1, 2, 3, 4))
    randomise_bn(model)
    model.double().eval()
    # float64 (docs/design.md): the per-map sums differ from integer mode by ~1e-16 relative,
    # so no potential lands on the other side of a rounding tie and the outputs agree tightly
    x = torch.randn(2, 3, 48, 40, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x)
        with SpikeRecorder(model) as rec, spike_driven(model):
            outs = model(x)
    for r, o in zip(ref, outs):
        assert (o - r).abs().max() <= 1e-12 * r.abs().max()
    rates = [s.firing_rate for s in rec.stats.values()]
    assert 0.01 < sum(rates) / len(rates) < 0.99  # neurons really fire, and not saturated


def test_spike_driven_mode_classifier_logits(randomise_bn, mmpretrain_scope):
    from mmpretrain.registry import MODELS
    torch.manual_seed(1)
    model = MODELS.build(dict(
        type='ImageClassifier', backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m',
                                              out_indices=(4, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=7, in_channels=128)))
    randomise_bn(model, 1)
    model.double().eval()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        with spike_driven(model):
            out = model(x, mode='tensor')
    assert (out - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_linear_attention_order_matches_quadratic_order(randomise_bn):
    model = ESpikeFormer('2.7m')
    attn = model.block3[0].attn.eval()
    randomise_bn(attn)
    captured = {}

    def grab(name):
        return lambda m, i, o: captured.__setitem__(name, o)

    handles = [getattr(attn, f'{n}_spike').register_forward_hook(grab(n)) for n in 'qkv']
    x = torch.randn(1, 96, 6, 5)
    with torch.no_grad():
        attn(x)
        q, k, v = (attn._heads(captured[n]) for n in 'qkv')
        quadratic = ((q @ k.transpose(-2, -1)) @ v) * attn.scale
        linear = (q @ (k.transpose(-2, -1) @ v)) * attn.scale
    for h in handles:
        h.remove()
    torch.testing.assert_close(linear, quadratic, rtol=1e-5, atol=1e-5)


def test_frozen_stages_and_norm_eval():
    model = ESpikeFormer('2.7m', frozen_stages=2, norm_eval=True)
    model.train()
    for stage in (0, 1):
        for m in model.stage_modules(stage):
            assert not m.training
            assert all(not p.requires_grad for p in m.parameters())
    assert all(p.requires_grad for p in model.downsample2.parameters())
    assert all(not m.training for m in model.modules() if isinstance(m, _BatchNorm))
    assert model.block3.training  # non-BN modules still train
    out = model(torch.rand(1, 3, 32, 32))[-1].sum()
    out.backward()
    assert model.downsample1_1.encode_conv.weight.grad is None
    assert model.block4[0].mlp.fc1_conv.weight.grad is not None


def test_drop_path_is_applied_in_training():
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m', drop_path_rate=0.5, out_indices=(4, ))
    model.eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        e1, e2 = model(x)[0], model(x)[0]
        assert torch.equal(e1, e2)  # eval: deterministic, no drop
        model.train()
        t1 = model(x)[0]
        t2 = model(x)[0]
    assert not torch.equal(t1, t2)
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for b in [*model.ConvBlock1_1, *model.block4]]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.5)


def test_layer_scale_is_optional():
    plain = ESpikeFormer('2.7m')
    assert not any('layer_scale' in k for k in plain.state_dict())
    scaled = ESpikeFormer('2.7m', layer_scale_init_value=1e-6)
    keys = [k for k in scaled.state_dict() if 'layer_scale' in k]
    # docs/reference_numbers.md: layer-scale-keys
    assert len(keys) == 24 and 'block3.0.layer_scale1' in keys


def test_compact_spikes_flag_changes_storage_not_gradients(monkeypatch):
    import mmsdt.snn.kernels.compact_storage as compact
    packed = []
    orig = compact._pack
    monkeypatch.setattr(compact, '_pack', lambda t: packed.append(orig(t)) or packed[-1])
    x = torch.randn(2, 3, 64, 64)
    grads = {}
    for flag in (True, False):
        torch.manual_seed(0)
        model = ESpikeFormer('2.7m', compact_spikes=flag)
        packed.clear()
        sum(o.square().mean() for o in model(x)).backward()
        grads[flag] = [p.grad for p in model.parameters()]
        n_uint8 = sum(isinstance(p, tuple) for p in packed)
        assert (n_uint8 > 0) == flag, (flag, n_uint8)
    for a, b in zip(grads[True], grads[False]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_zero_init_residual_makes_every_block_an_identity():
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m', zero_init_residual=True).eval()
    blocks = [m for m in model.modules() if hasattr(m, 'residual_norms')]
    assert len(blocks) == 12
    for block in blocks:
        x = torch.randn(2, block.residual_norms()[0].num_features, 8, 8)
        torch.testing.assert_close(block(x), x, rtol=0, atol=0)
    default = ESpikeFormer('2.7m').eval()
    block = default.block3[0]
    x = torch.randn(2, 96, 8, 8)
    assert not torch.allclose(block(x), x)


def _assert_grads_equal(got, want, rel=1e-10):
    """Equal up to float64 summation-order noise relative to the largest gradient (a
    gradient that is analytically 0, e.g. a conv bias followed by BN, is pure noise ~1e-11
    in either summation order)."""
    scale = max(float(w.abs().max()) for w in want)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert float((a - b).abs().max()) <= rel * scale


def test_channels_last_is_the_same_function(randomise_bn):
    """channels_last changes memory layout only: outputs and gradients equal in float64."""
    x = torch.randn(2, 3, 64, 96, dtype=torch.float64)
    results = {}
    for flag in (True, False):
        torch.manual_seed(0)
        model = randomise_bn(ESpikeFormer('2.7m', channels_last=flag)).double()
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        dense_kxk = [c for c in convs if c.weight.shape[1] > 1 and c.kernel_size != (1, 1)]
        assert dense_kxk  # the layouts differ only where the weight shape is unambiguous
        assert all(c.weight.is_contiguous(memory_format=torch.channels_last) == flag
                   for c in dense_kxk)
        outs = model(x)
        sum(o.square().sum() for o in outs).backward()
        results[flag] = (outs, [p.grad for p in model.parameters()],
                         list(model.state_dict()))
    for a, b in zip(results[True][0], results[False][0]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    _assert_grads_equal(results[True][1], results[False][1])
    assert results[True][2] == results[False][2]  # same keys (checkpoints unchanged)


def test_bf16_autocast_option(randomise_bn, monkeypatch):
    """autocast_dtype='bfloat16': float32 outputs close to the float32 model, trainable; on
    CPU the depthwise convs run in float32, the other convs in bf16."""
    torch.manual_seed(0)
    ref = randomise_bn(ESpikeFormer('2.7m', drop_path_rate=0.)).eval()
    model = ESpikeFormer('2.7m', autocast_dtype='bfloat16').eval()
    model.load_state_dict(ref.state_dict())
    seen = {}

    def record(module, inputs, output):
        seen[module.groups > 1] = seen.get(module.groups > 1, set()) | {output.dtype}

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(record)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got, want = model(x), ref(x)
    assert seen == {True: {torch.float32}, False: {torch.bfloat16}}
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        # bf16 weights: some counts round differently; the maps stay strongly correlated
        assert torch.corrcoef(torch.stack([g.flatten(), w.flatten()]))[0, 1] > 0.9
    model.train()
    sum(o.square().mean() for o in model(x)).backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and p.grad.isfinite().all()
               for p in model.parameters())
    with pytest.raises(ValueError, match='autocast_dtype'):
        ESpikeFormer('2.7m', autocast_dtype='int8')


@pytest.mark.parametrize('channels_last', [True, False])
def test_fused_training_kernels_are_the_same_function(randomise_bn, channels_last,
                                                      fuse_small_tensors, monkeypatch):
    """The fused BN + neuron and BN kernels (training on CPU): same outputs, gradients and BN
    running statistics as the unfused modules, in float64 (BN's statistics are summed in
    another order, hence equal up to float64 rounding, not bit for bit)."""
    x = torch.randn(2, 3, 64, 96, dtype=torch.float64)
    results, kernels_run = {}, []
    run = fused._run
    monkeypatch.setattr(fused, '_run', lambda fn, *a: kernels_run.append(fn.__name__)
                        or run(fn, *a))
    for flag in (True, False):
        torch.manual_seed(0)
        model = randomise_bn(ESpikeFormer('2.7m', channels_last=channels_last)).double().train()
        kernels_run.clear()
        with use_fused_kernels(flag):
            outs = model(x.clone().requires_grad_())
            sum(o.square().sum() for o in outs).backward()
        # every kind of kernel ran with fusion on (codes_to_spikes: compact spike storage
        # restoring the spikes a conv saved), none without
        assert set(kernels_run) == ({'_spike_forward', '_spike_backward', '_bn_spike_forward',
                                     '_bn_spike_backward', '_bn_forward', '_bn_backward',
                                     '_codes_to_spikes'} if flag else set())
        results[flag] = (outs, [p.grad for p in model.parameters()],
                         [b.double() for b in model.buffers()])
    for a, b in zip(results[True][0], results[False][0]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    _assert_grads_equal(results[True][1], results[False][1])
    for a, b in zip(results[True][2], results[False][2]):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


def test_bf16_training_keeps_depthwise_convs_in_float32(fuse_small_tensors):
    model = ESpikeFormer('2.7m', autocast_dtype='bfloat16').train()
    seen = {}

    def record(module, inputs, output):
        seen[module.groups > 1] = seen.get(module.groups > 1, set()) | {inputs[0].dtype}

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) and m is not model.downsample1_1.encode_conv:
            m.register_forward_hook(record)
    with use_fused_kernels(True):
        sum(o.square().mean() for o in model(torch.randn(2, 3, 64, 64))).backward()
    # spikes reach the depthwise convs in float32, all other convs in bf16 (exact spikes)
    assert seen == {True: {torch.float32}, False: {torch.bfloat16}}


def test_with_cp_gives_the_same_gradients(randomise_bn):
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64, requires_grad=True)
    grads = {}
    for flag in (True, False):
        torch.manual_seed(0)
        model = randomise_bn(ESpikeFormer('2.7m', with_cp=flag)).double().train()
        x.grad = None
        sum(o.square().sum() for o in model(x)).backward()
        grads[flag] = [x.grad.clone()] + [p.grad for p in model.parameters()]
    _assert_grads_equal(grads[True], grads[False])
