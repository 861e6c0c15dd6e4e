"""tools/model_converters/sma_to_finetune.py: the toy SMA checkpoint -> the toy fine-tuning
encoder, loaded strictly through init_cfg; a fine-tuning config of another size is refused."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmsdt.registry import MODELS
from mmsdt.utils.checkpoint import CheckpointError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = osp.join(ROOT, 'configs/toy/sma_e-spikeformer-large-narrow_1xb32-600i_toy-cls-64px.py')
FINETUNE = osp.join(ROOT, 'configs/toy/e-spikeformer-large-narrow_1xb32-300i_toy-cls-10pct-64px.py')


def _tool():
    spec = importlib.util.spec_from_file_location(
        'sma_to_finetune', osp.join(ROOT, 'tools/model_converters/sma_to_finetune.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(cfg):
    import mmsdt.models  # noqa: F401
    import mmsdt.models.selfsup  # noqa: F401
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


@pytest.fixture
def sma_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = _build(Config.fromfile(PRETRAIN).model)
    with torch.no_grad():  # distinct from any initialisation
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / 'iter_600.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model, str(path)


def test_converted_encoder_loads_into_the_finetuning_config(tmp_path, sma_checkpoint, capsys):
    model, src = sma_checkpoint
    out = str(tmp_path / 'encoder' / 'sma_encoder.pth')
    assert _tool().main([src, FINETUNE, out]) == 0
    assert 'layer-scale tensors added' in capsys.readouterr().out
    cfg = Config.fromfile(FINETUNE).model.backbone
    cfg.init_cfg = dict(type='Pretrained', checkpoint=out, prefix='backbone.')
    backbone = _build(cfg)
    backbone.init_weights()
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key
    scales = [v for k, v in backbone.state_dict().items() if 'layer_scale' in k]
    assert scales and all(torch.all(v == cfg.layer_scale_init_value) for v in scales)


def test_finetuning_config_of_another_width_is_refused(tmp_path, sma_checkpoint):
    _, src = sma_checkpoint
    wider = tmp_path / 'wider.py'
    wider.write_text(f"_base_ = ['{FINETUNE}']\n"
                     "model = dict(backbone=dict(arch=dict(embed_dims=(32, 64, 192), depth=4, "
                     "num_heads=1, mlp_ratio=4, rep_conv2=True)), head=dict(in_channels=192))\n")
    with pytest.raises(CheckpointError, match=r'has shape \(\d+(, \d+)*\) in the pre-training '
                       r'checkpoint but \(\d+(, \d+)*\) in the fine-tuning'):
        _tool().convert(src, str(wider), str(tmp_path / 'out.pth'))
    assert not (tmp_path / 'out.pth').exists()
