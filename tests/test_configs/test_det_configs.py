"""The detection configs parse, build with the real strides and spiking layers, and predict."""
from pathlib import Path

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from mmsdt.models import ESpikeFormer, SpikeConv2d

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')
REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p) for p in (REPO / 'configs/e-spikeformer/det').glob('*.py'))
TOY = sorted(str(p) for p in (REPO / 'configs/toy').glob('mask-rcnn_*.py'))


def _name(path):
    return path.split('/')[-1]


def test_all_five_configs_are_there():
    names = [_name(c) for c in CONFIGS]
    assert len(names) == 5
    assert sum(n.startswith('mask-rcnn') for n in names) == 3
    assert any(n.startswith('retinanet') for n in names)
    assert any(n.startswith('cascade-mask-rcnn') and '-3x_' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS + TOY, ids=_name)
def test_neck_is_mmdet_fpn_with_spiking_convs_on_the_real_channels(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    neck = cfg.model.neck
    assert neck.type == 'FPN' and neck.conv_cfg == dict(type='mmsdt.SpikeConv2d')
    backbone = cfg.model.backbone.copy()
    backbone.pop('type')
    backbone.pop('init_cfg', None)
    assert list(neck.in_channels) == list(ESpikeFormer(**backbone).out_channels)


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_parses_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.type == 'mmsdt.ESpikeFormer'
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert f'_{cfg.model.backbone.arch}_' in cfg.pretrained
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-4 and 'momentum' not in cfg.optim_wrapper.optimizer
    assert cfg.train_dataloader.batch_size == 4 and cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.sync_bn == 'torch'
    assert dict(type='mmsdt.ClassDataCheckHook') in cfg.custom_hooks
    model = MODELS.build(cfg.model)
    expected = (8, 16, 32, 64, 128) if 'retinanet' in path else (4, 8, 16, 32, 64)
    assert model.feature_strides == expected
    assert isinstance(model.neck.lateral_convs[0].conv, SpikeConv2d)
    assert isinstance(model.neck.fpn_convs[-1].conv, SpikeConv2d)


@pytest.mark.parametrize('path', CONFIGS + TOY, ids=_name)
def test_data_sets_and_images_are_checked(path):
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        dataset = dataset.get('dataset', dataset)  # the toy set inside MultiImageMixDataset
        assert dataset.type == 'mmsdt.CheckedCocoDataset', loader
        # the official COCO files hold degenerate annotations: dropped and counted there
        policy = 'raise' if path in TOY else 'skip'
        assert dataset.get('bad_annotations', 'raise') == policy, loader
        steps = [t.type for t in dataset.pipeline]
        assert steps[:2] == ['LoadImageFromFile', 'mmsdt.CheckImageSize'], loader


def test_cascade_stages_and_schedule():
    cfg = Config.fromfile([c for c in CONFIGS if 'cascade' in c][0])
    heads = cfg.model.roi_head.bbox_head
    assert [h.type for h in heads] == ['mmsdt.SpikeShared4Conv1FCBBoxHead'] * 3
    assert [h.bbox_coder.target_stds for h in heads] == [
        [0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.033, 0.033, 0.067, 0.067]]
    assert all(h.loss_bbox.type == 'GIoULoss' and h.reg_decoded_bbox for h in heads)
    assert all(h.norm_cfg.type == 'SyncBN' for h in heads)
    # docs/reference_numbers.md: recipe-coco-3x
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33] and cfg.param_scheduler[1].end == 36


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


@pytest.mark.parametrize('path', TOY, ids=_name)
def test_toy_configs_build_for_cpu(path):
    cfg = Config.fromfile(path)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.sync_bn is None  # SyncBN cannot run in a multi-process CPU run
    assert cfg.model.backbone.get('init_cfg') is None  # trained from scratch
    model = MODELS.build(cfg.model)
    expected = (4, 8, 16, 16, 32) if '-s16_' in path else (4, 8, 16, 32, 64)
    assert model.feature_strides == expected


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
