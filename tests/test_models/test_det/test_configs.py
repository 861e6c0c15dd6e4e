"""The COCO detection configs parse, build with the real strides, and predict on CPU."""
import glob
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import mmsdt.models  # noqa: F401

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')
CONFIGS = sorted(glob.glob(str(Path(__file__).resolve().parents[3] /
                               'configs/e-spikeformer/det/*.py')))


def test_all_five_configs_are_there():
    names = [c.split('/')[-1] for c in CONFIGS]
    assert len(names) == 5
    assert sum(n.startswith('mask-rcnn') for n in names) == 3
    assert any(n.startswith('retinanet') for n in names)
    assert any(n.startswith('cascade-mask-rcnn') and '_3x_' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.split('/')[-1])
def test_config_parses_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.type == 'mmsdt.ESpikeFormer'
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-4 and 'momentum' not in cfg.optim_wrapper.optimizer
    assert cfg.sync_bn == 'torch'
    model = MODELS.build(cfg.model)
    expected = (8, 16, 32, 64, 128) if 'retinanet' in path else (4, 8, 16, 32, 64)
    assert model.feature_strides == expected


def test_no_weight_decay_on_norm_and_bias():
    cfg = Config.fromfile([c for c in CONFIGS if '5.1m' in c][0])
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            decay[id(p)] = group['weight_decay']
    bn = model.backbone.block3[0].attn.q_conv[1]
    assert decay[id(bn.weight)] == 0 and decay[id(bn.bias)] == 0
    assert decay[id(model.backbone.block3[0].mlp.fc1_conv.bias)] == 0
    assert decay[id(model.backbone.block3[0].mlp.fc1_conv.weight)] == 0.05
    assert decay[id(model.neck.lateral_convs[0].conv.weight)] == 0.05


def test_mask_rcnn_19m_predicts_on_800x1333():
    cfg = Config.fromfile([c for c in CONFIGS if 'mask-rcnn_e-spikeformer-19m' in c][0])
    model = MODELS.build(cfg.model).eval()
    sample = DetDataSample(metainfo=dict(img_shape=(800, 1333), ori_shape=(800, 1333),
                                         scale_factor=(1.0, 1.0), pad_shape=(800, 1344)))
    data = dict(inputs=[torch.randint(0, 255, (3, 800, 1333), dtype=torch.uint8)],
                data_samples=[sample])
    with torch.no_grad():
        results = model.test_step(data)
    pred = results[0].pred_instances
    assert pred.bboxes.shape[1] == 4 and len(pred.bboxes) == len(pred.scores)
    assert pred.masks.shape[1:] == (800, 1333)
