"""Loading released SDT-V3 files and mmengine checkpoints (mmsdt.utils.checkpoint, the
generic safe reader, and E-SpikeFormer's converter module beside the backbone)."""
import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmsdt.models import ESpikeFormer
from mmsdt.models.backbones.e_spikeformer_converter import (infer_arch, load_backbone_checkpoint,
                                                             released_state_dict,
                                                             save_released_format)
from mmsdt.snn import SpikeLinear
from mmsdt.utils import CheckpointError, load_checkpoint_file, load_model_state

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def released(tmp_path_factory):
    """A file in the released layout (model/optimizer/epoch/scaler/args Namespace) of a
    2.7m backbone and an ImageNet classifier (``head.weight`` / ``head.bias``)."""
    torch.manual_seed(0)
    src = ESpikeFormer('2.7m')
    for m in src.modules():  # non-default BN statistics so a wrong load would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    head = SpikeLinear(128, 1000)
    path = tmp_path_factory.mktemp('ckpt') / 'e_spikeformer_t_released.pth'
    save_released_format(released_state_dict(src, head), path)
    return src.eval(), path


def test_released_file_needs_the_allow_list(released):
    _, path = released
    plain = subprocess.run(  # a process that never imported mmsdt: stock torch.load refuses
        [sys.executable, '-c', f'import torch; torch.load({str(path)!r})'], capture_output=True,
        text=True)
    assert plain.returncode != 0 and 'Namespace' in plain.stderr
    loaded = load_checkpoint_file(path)
    assert isinstance(loaded['args'], argparse.Namespace)
    assert sorted(loaded) == ['args', 'epoch', 'model', 'optimizer', 'scaler']
    # importing mmsdt allow-listed the same globals process-wide (mmengine's loaders use it)
    assert isinstance(torch.load(path, map_location='cpu')['args'], argparse.Namespace)


def test_pretrained_init_cfg_reproduces_source_features(released):
    src, path = released
    model = ESpikeFormer('2.7m', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ours = model(x)
        ref = src.forward_stages(x)
    for i, out in zip(model.out_indices, ours):
        assert torch.equal(out, ref[i])


def test_report_ignores_head_and_flags_unexpected(released, tmp_path, caplog):
    src, _ = released
    sd = load_checkpoint_file(released[1])['model']
    sd['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'bare.pth'
    torch.save(sd, path)  # a bare state dict
    with caplog.at_level(logging.WARNING):
        report = load_backbone_checkpoint(ESpikeFormer('2.7m'), path)
    assert report.ignored == ['head.weight', 'head.bias']
    assert report.unexpected == ['extra.weight']
    assert 'extra.weight' in caplog.text


def test_mmengine_checkpoint_with_backbone_prefix(released, tmp_path):
    src, _ = released
    sd = {f'backbone.{k}': v for k, v in src.state_dict().items() if not k.startswith('head')}
    sd['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'det.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=sd), path)
    model = ESpikeFormer('2.7m')
    report = load_backbone_checkpoint(model, path)
    assert not report.unexpected and len(report.loaded) == len(model.state_dict())
    assert torch.equal(model.block4[1].attn.v_conv[0].weight, src.block4[1].attn.v_conv[0].weight)


def test_missing_keys_raise_with_names(released, tmp_path):
    src, _ = released
    sd = {k: v for k, v in src.state_dict().items() if not k.startswith('block4.1.mlp')}
    path = tmp_path / 'partial.pth'
    torch.save(dict(model=sd), path)
    with pytest.raises(CheckpointError, match=r'missing.*block4\.1\.mlp\.fc1_conv\.weight'):
        load_backbone_checkpoint(ESpikeFormer('2.7m'), path)


def test_shape_mismatch_names_key_and_shapes(released):
    _, path = released
    with pytest.raises(CheckpointError,
                       match=r'downsample1_1\.encode_conv\.weight: checkpoint \(12, 3, 7, 7\) '
                       r'vs model \(16, 3, 7, 7\)'):
        load_backbone_checkpoint(ESpikeFormer(dict(embed_dims=(32, 48, 96, 128))), path)


def test_truncated_and_foreign_files_name_the_file(released, tmp_path):
    _, path = released
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match='truncated.pth'):
        load_backbone_checkpoint(ESpikeFormer('2.7m'), truncated)
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    with pytest.raises(CheckpointError, match='notes.pth'):
        load_backbone_checkpoint(ESpikeFormer('2.7m'), text)
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_backbone_checkpoint(ESpikeFormer('2.7m'), tmp_path / 'nowhere.pth')


def test_unknown_global_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(model={}, payload=Path('/')), path)
    with pytest.raises(CheckpointError, match='evil.pth.*allow-list'):
        load_backbone_checkpoint(ESpikeFormer('2.7m'), path)


def test_missing_checkpoint_in_init_cfg():
    model = ESpikeFormer('2.7m', init_cfg=dict(type='Pretrained'))
    with pytest.raises(ValueError, match='checkpoint'):
        model.init_weights()


def test_layer_scale_keys_may_be_missing(released):
    _, path = released
    model = ESpikeFormer('2.7m', layer_scale_init_value=1.0)
    report = load_backbone_checkpoint(model, path)
    # docs/reference_numbers.md: layer-scale-keys
    assert sum('layer_scale' in k for k in report.missing_allowed) == 24
    assert torch.all(model.block3[0].layer_scale1 == 1.0)


def test_converter_writes_a_plain_mmengine_checkpoint(released, tmp_path):
    src, path = released
    out = tmp_path / 'converted' / 'e_spikeformer_t.pth'
    proc = subprocess.run(
        [sys.executable, str(REPO / 'tools/model_converters/sdtv3_to_mmsdt.py'), str(path),
         str(out)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert 'embed_dims=(24, 48, 96, 128)' in proc.stdout
    ckpt = torch.load(out, map_location='cpu')  # stock weights_only load works
    assert 'head.fc.weight' in ckpt['state_dict']
    model = ESpikeFormer('2.7m', init_cfg=dict(type='Pretrained', checkpoint=str(out)))
    model.init_weights()
    assert torch.equal(model.block3[5].mlp.fc2_bn.running_var, src.block3[5].mlp.fc2_bn.running_var)


def test_released_layout_keys(released):
    """The writer's layout: the backbone's keys, then the classifier as ``head.*``."""
    src, path = released
    sd = load_checkpoint_file(path)['model']
    assert list(sd) == list(src.state_dict()) + ['head.weight', 'head.bias']
    assert sd['head.weight'].shape == (1000, 128)
    assert infer_arch(sd) == dict(embed_dims=(24, 48, 96, 128))
    with pytest.raises(CheckpointError, match='downsample4.encode_conv.weight'):
        infer_arch({k: v for k, v in sd.items() if not k.startswith('downsample4')})


def test_whole_model_loader_names_the_converter_for_a_released_file(released):
    """The generic strict loader knows no E-SpikeFormer key; the converter module's hint
    names the conversion tool."""
    _, path = released
    clf = torch.nn.Module()
    clf.backbone = ESpikeFormer('2.7m')
    with pytest.raises(CheckpointError, match=r'does not fit Module: .*missing.*'
                       r'convert it once with tools/model_converters/sdtv3_to_mmsdt\.py'):
        load_model_state(clf, load_checkpoint_file(path), str(path))
