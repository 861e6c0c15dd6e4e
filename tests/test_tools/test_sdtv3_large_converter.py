"""Released large SDT-V3 files (83M / 171M, 1x4 / 1x8) through
tools/model_converters/sdtv3_large_to_mmsdt.py, init_cfg and the strict whole-model loader.

The synthetic released files are built from the upstream layout written out below from the
reference (sdt_v3_upstream.md §3.1: modules, widths, key naming), not from mmsdt's model.
"""
import argparse

import pytest
import torch
from mmengine.registry import DefaultScope

from mmsdt.models import ESpikeFormerLarge
from mmsdt.models.backbones.e_spikeformer_large_converter import (
    convert_released_large_state_dict, detect_max_value)
from mmsdt.registry import MODELS
from mmsdt.utils import CheckpointError, load_model_checkpoint

TOOL = 'tools/model_converters/sdtv3_large_to_mmsdt.py'
WIDTHS = {'83m': ((128, 256, 512), True), '171m': ((196, 384, 768), False)}
NAMES = {'83m': '83M', '171m': '171M'}


def upstream_layout(C0, C1, C2, rep_conv2, classes=1000, depth=12):
    """Key -> shape of the upstream ``Spikformer`` state dict (fine-tuning model)."""
    shapes = {}

    def bn(name, c):
        for p in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'{name}.{p}'] = (c, )
        shapes[f'{name}.num_batches_tracked'] = ()

    def down(name, cin, cout, k):
        shapes[f'{name}.encode_conv.weight'] = (cout, cin, k, k)
        shapes[f'{name}.encode_conv.bias'] = (cout, )
        bn(f'{name}.encode_bn', cout)

    def conv_block(name, c):  # MS_ConvBlock: SeqToANNContainer(conv3x3 + BN), twice
        shapes[f'{name}.conv1.0.0.weight'] = (4 * c, c, 3, 3)
        shapes[f'{name}.conv1.0.0.bias'] = (4 * c, )
        bn(f'{name}.conv1.0.1', 4 * c)
        shapes[f'{name}.conv2.0.0.weight'] = (c, 4 * c, 3, 3)
        shapes[f'{name}.conv2.0.0.bias'] = (c, )
        bn(f'{name}.conv2.0.1', c)

    def rep(name, c, hidden):  # RepConv / RepConv2: Conv1d (no bias) + BN1d, twice
        shapes[f'{name}.conv1.0.weight'] = (hidden, c, 1)
        bn(f'{name}.conv1.1', hidden)
        shapes[f'{name}.conv2.0.weight'] = (c, hidden, 1)
        bn(f'{name}.conv2.1', c)

    down('downsample1_1', 3, C0 // 2, 7)
    conv_block('ConvBlock1_1.0', C0 // 2)
    down('downsample1_2', C0 // 2, C0, 3)
    conv_block('ConvBlock1_2.0', C0)
    down('downsample2', C0, C1, 3)
    conv_block('ConvBlock2_1.0', C1)
    conv_block('ConvBlock2_2.0', C1)
    down('downsample3', C1, C2, 3)
    for i in range(depth):
        b = f'block3.{i}'
        if rep_conv2:
            rep(f'{b}.rep_conv', C2, C2)
        for n in ('q', 'k', 'v', 'proj'):
            rep(f'{b}.attn.{n}_conv.0', C2, int(C2 * 1.5))
            bn(f'{b}.attn.{n}_conv.1', C2)
        shapes[f'{b}.mlp.fc1_conv.weight'] = (4 * C2, C2, 1)
        shapes[f'{b}.mlp.fc1_conv.bias'] = (4 * C2, )
        bn(f'{b}.mlp.fc1_bn', 4 * C2)
        shapes[f'{b}.mlp.fc2_conv.weight'] = (C2, 4 * C2, 1)
        shapes[f'{b}.mlp.fc2_conv.bias'] = (C2, )
        bn(f'{b}.mlp.fc2_bn', C2)
        shapes[f'{b}.layer_scale1'] = (C2, )
        shapes[f'{b}.layer_scale2'] = (C2, )
    for h in ('head', 'head_kd'):
        shapes[f'{h}.weight'] = (classes, C2)
        shapes[f'{h}.bias'] = (classes, )
    return shapes


def random_state_dict(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.tensor(7) if k.endswith('num_batches_tracked')
                else torch.rand(shape, generator=g) + 0.1) for k, shape in layout.items()}


def save_released(path, sd, key='model'):
    torch.save({key: sd, 'epoch': 149, 'args': argparse.Namespace(model='spikformer12_768')},
               path)


def classifier(size, D, init_cfg=None):
    (C0, C1, C2), _ = WIDTHS[size]
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # as a config would
        return MODELS.build(dict(
            type='mmpretrain.ImageClassifier',
            backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=size, max_value=D,
                          init_cfg=init_cfg),
            neck=dict(type='mmpretrain.GlobalAveragePooling'),
            head=dict(type='mmsdt.SpikeDistillClsHead', num_classes=1000, in_channels=C2,
                      max_value=D)))


@pytest.mark.parametrize('size,params', [('83m', 83_015_952), ('171m', 171_740_714)])
def test_hand_written_layout_is_the_models(size, params):
    """The layout above has the parameter count of reference §3.1 and is the model's."""
    (C0, C1, C2), rep2 = WIDTHS[size]
    layout = upstream_layout(C0, C1, C2, rep2)
    assert sum(torch.Size(s).numel() for k, s in layout.items()
               if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))) == params
    model = {k: tuple(v.shape) for k, v in ESpikeFormerLarge(size).state_dict().items()}
    assert model == {k: s for k, s in layout.items() if not k.startswith('head')}


@pytest.mark.parametrize('size', ['83m', '171m'])
def test_round_trip_both_d(size, tmp_path, load_tool):
    convert = load_tool(TOOL).convert
    (C0, C1, C2), rep2 = WIDTHS[size]
    sd = random_state_dict(upstream_layout(C0, C1, C2, rep2))
    for D in (4, 8):
        src = tmp_path / f'{NAMES[size]}_1x{D}.pth'
        save_released(src, sd)
        dst = tmp_path / f'converted_{size}_d{D}.pth'  # the name says nothing: meta does
        meta = convert(str(src), str(dst))
        assert meta['arch'] == size and meta['max_value'] == D and meta['num_classes'] == 1000
        src.unlink()
        model = classifier(size, D)
        load_model_checkpoint(model, str(dst))
        got = model.state_dict()
        for k, v in sd.items():
            ours = f'head.{k}' if k.startswith('head') else f'backbone.{k}'
            assert torch.equal(got[ours], v), k
        del model, got
        other = 12 - D
        with pytest.raises(CheckpointError, match=f'D = {D}.*max_value = {other}'):
            load_model_checkpoint(classifier(size, other), str(dst))
        backbone = ESpikeFormerLarge(size, max_value=D,
                                     init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
        backbone.init_weights()
        assert torch.equal(backbone.state_dict()['block3.11.mlp.fc2_conv.weight'],
                           sd['block3.11.mlp.fc2_conv.weight'])
        with pytest.raises(CheckpointError, match=f'D = {D}.*max_value = {other}'):
            ESpikeFormerLarge(size, max_value=other, init_cfg=dict(
                type='Pretrained', checkpoint=str(dst))).init_weights()
        dst.unlink()


@pytest.fixture(scope='module')
def small_released():
    """An 83M upstream state dict (random values)."""
    return random_state_dict(upstream_layout(128, 256, 512, True), seed=1)


@pytest.mark.parametrize('wrap', ['model', 'model_ema', 'plain', 'ddp'])
def test_container_layouts(wrap, small_released):
    sd = dict(small_released)
    if wrap == 'ddp':
        ckpt = {'model': {f'module.{k}': v for k, v in sd.items()}}
    elif wrap == 'plain':
        ckpt = sd
    else:
        ckpt = {wrap: sd, 'epoch': 3}
    out, meta = convert_released_large_state_dict(ckpt, '/x/83M_1x8.pth')
    assert meta == dict(arch='83m', max_value=8, num_classes=1000, source='83M_1x8.pth')
    assert out['head.head_kd.weight'] is sd['head_kd.weight']
    assert out['backbone.block3.0.rep_conv.conv1.0.weight'] is \
        sd['block3.0.rep_conv.conv1.0.weight']
    assert len(out) == len(sd)


def test_d_from_the_released_names():
    # the released names (upstream Model_Large/Train_Large.md)
    names = {'171M_1x4.pth': 4, '171M_1x8.pth': 8, '171M_1x8_384.pth': 8, '83M_1x4': 4,
             '83M_1x8.pth': 8, 'epoch_10.pth': None, '171M.pth': None, 'a_11x4.pth': None}
    assert {n: detect_max_value(n) for n in names} == names
    assert detect_max_value('weights.pth', dict(max_value=8)) == 8


def test_file_without_d_needs_max_value(tmp_path, load_tool, small_released):
    tool = load_tool(TOOL)
    src = tmp_path / 'checkpoint-149.pth'
    save_released(src, small_released)
    with pytest.raises(CheckpointError, match='does not say its D.*--max-value'):
        tool.main([str(src), str(tmp_path / 'out.pth')])
    assert tool.main([str(src), str(tmp_path / 'out.pth'), '--max-value', '8']) == 0
    assert torch.load(tmp_path / 'out.pth')['meta']['max_value'] == 8
    # a released file that does not say D is refused by init_cfg too (convert it first)
    with pytest.raises(CheckpointError, match='does not say its D.*--max-value'):
        ESpikeFormerLarge('83m', init_cfg=dict(type='Pretrained',
                                               checkpoint=str(src))).init_weights()
    named = tmp_path / '83M_1x4.pth'
    save_released(named, small_released)
    with pytest.raises(CheckpointError, match='says D = 4 but D = 8'):
        tool.main([str(named), str(tmp_path / 'out2.pth'), '--max-value', '8'])
    # a released file named 1x4 loads directly through init_cfg (D checked from its name)
    model = ESpikeFormerLarge('83m', init_cfg=dict(type='Pretrained', checkpoint=str(named)))
    model.init_weights()
    assert torch.equal(model.downsample2.encode_bn.running_var,
                       small_released['downsample2.encode_bn.running_var'])
    with pytest.raises(CheckpointError, match='D = 4.*max_value = 8'):
        ESpikeFormerLarge('83m', max_value=8, init_cfg=dict(
            type='Pretrained', checkpoint=str(named))).init_weights()


def test_pretraining_encoder_width_is_refused():
    """Upstream's 171M pre-training encoder has C0 = 192, the released fine-tuning model 196
    (reference §3.3): refused, naming the shapes."""
    sd = random_state_dict(upstream_layout(192, 384, 768, False))
    with pytest.raises(CheckpointError) as err:
        convert_released_large_state_dict(sd, '171M_1x4.pth')
    msg = str(err.value)
    assert 'downsample1_1.encode_conv.weight: checkpoint (96, 3, 7, 7) vs model (98, 3, 7, 7)' \
        in msg
    assert 'ConvBlock1_2.0.conv1.0.0.weight: checkpoint (768, 192, 3, 3) vs model ' \
        '(784, 196, 3, 3)' in msg
    assert 'pre-training encoder' in msg


def test_other_width_is_refused(tmp_path, small_released, load_tool):
    with pytest.raises(CheckpointError, match=r'downsample3.encode_conv.weight: checkpoint '
                       r'\(512, 256, 3, 3\) vs model \(768, 384, 3, 3\)'):
        convert_released_large_state_dict(small_released, '83M_1x4.pth', arch='171m')
    dst = tmp_path / 'c.pth'
    src = tmp_path / '83M_1x4.pth'
    save_released(src, small_released)
    load_tool(TOOL).convert(str(src), str(dst))
    with pytest.raises(CheckpointError, match=r'checkpoint \(64, 3, 7, 7\) vs model '
                       r'\(98, 3, 7, 7\)'):
        ESpikeFormerLarge('171m', init_cfg=dict(type='Pretrained',
                                                checkpoint=str(dst))).init_weights()


def test_missing_and_unexpected_keys_are_named(small_released):
    sd = dict(small_released)
    del sd['block3.4.attn.v_conv.0.conv2.0.weight']
    sd['block3.4.attn.extra'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r'missing key\(s\): block3.4.attn.v_conv.0.conv2'
                       r'.0.weight; 1 unexpected key\(s\): block3.4.attn.extra'):
        convert_released_large_state_dict(sd, '83M_1x4.pth')


def test_runner_checkpoint_d_from_its_config(tmp_path):
    """A checkpoint saved by mmengine's runner records its config text in meta['cfg']."""
    model = ESpikeFormerLarge(dict(embed_dims=(8, 16, 32), depth=1, num_heads=4), max_value=8)
    cfg = ("model = dict(type='mmpretrain.ImageClassifier', backbone=dict("
           "type='mmsdt.ESpikeFormerLarge', arch=dict(embed_dims=(8, 16, 32), depth=1, "
           "num_heads=4), max_value=8))\n")
    path = tmp_path / 'epoch_3.pth'
    torch.save(dict(meta=dict(cfg=cfg, epoch=3), state_dict=model.state_dict()), path)
    load_model_checkpoint(model, str(path))
    narrow4 = ESpikeFormerLarge(dict(embed_dims=(8, 16, 32), depth=1, num_heads=4))
    with pytest.raises(CheckpointError, match='D = 8.*max_value = 4'):
        load_model_checkpoint(narrow4, str(path))
    # a file that says nothing loads, with a warning saying so
    torch.save(dict(meta=dict(epoch=3), state_dict=model.state_dict()), path)
    load_model_checkpoint(narrow4, str(path))
