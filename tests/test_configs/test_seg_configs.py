"""The segmentation configs parse and build: spiking FPN neck on the real channels, the
decode head's spike scale, the real strides, the schedule and the runtime."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from mmsdt.models import ESpikeFormer, SpikeConv2d

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmseg_scope')
REPO = Path(__file__).resolve().parents[2]
ADE = sorted(str(p) for p in (REPO / 'configs/e-spikeformer/seg').glob('*.py'))
TOY = str(REPO / 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py')


def _name(path):
    return path.split('/')[-1]


def test_both_ade_configs_are_there():
    assert [_name(c).split('_')[1] for c in ADE] == ['e-spikeformer-10m', 'e-spikeformer-19m']


@pytest.mark.parametrize('path', ADE + [TOY], ids=_name)
def test_config_builds_spiking_fpn_and_head(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    neck = cfg.model.neck
    assert neck.type == 'FPN' and neck.conv_cfg == dict(type='mmsdt.SpikeConv2d')
    assert neck.norm_cfg.type == 'BN'
    backbone = cfg.model.backbone.copy()
    backbone.pop('type')
    backbone.pop('init_cfg', None)
    assert list(neck.in_channels) == list(ESpikeFormer(**backbone).out_channels)
    # ADE20K: the paper's 0..1 head spikes (QFPNHead); toy: integer head spikes
    head_norm = 1 if path == TOY else 4
    assert cfg.model.decode_head.spike_cfg == dict(norm=head_norm)
    model = MODELS.build(cfg.model)
    assert model.feature_strides == tuple(cfg.model.decode_head.feature_strides)
    lateral = model.neck.lateral_convs[0].conv
    assert isinstance(lateral, SpikeConv2d) and lateral.spike.norm == 1
    assert model.decode_head.conv_seg.spike.norm == head_norm


@pytest.mark.parametrize('path', ADE + [TOY], ids=_name)
def test_label_maps_are_checked_right_after_loading(path):
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        inner = dataset.get('dataset', dataset)  # the toy set inside MultiImageMixDataset
        steps = [t.type for t in inner.pipeline]
        check = inner.pipeline[steps.index('LoadAnnotations') + 1]
        assert check.type == 'mmsdt.CheckSegLabels', loader
        assert check.num_classes == cfg.model.decode_head.num_classes
        # copy-paste runs in the mixing wrapper's pipeline, after the inner one's check
        assert 'mmsdt.SegCopyPaste' not in steps


@pytest.mark.parametrize('path', ADE, ids=_name)
def test_ade_recipe_and_runtime(path):
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.init_cfg.checkpoint == cfg.pretrained
    assert f'_{cfg.model.backbone.arch}_' in cfg.pretrained
    assert cfg.model.backbone.out_indices == (0, 1, 2, 4)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.decode_head.lr_mult == 2.0
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR', 'PolyLR']
    # docs/reference_numbers.md: recipe-ade
    assert cfg.param_scheduler[1].end == cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size == 4 and cfg.model.data_preprocessor.size == (512, 512)
    assert cfg.sync_bn == 'torch'
    assert dict(type='mmsdt.ClassDataCheckHook') in cfg.custom_hooks
    assert cfg.default_hooks.visualization.type == 'SegVisualizationHook'


def test_toy_runtime_is_for_cpu():
    cfg = Config.fromfile(TOY)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.sync_bn is None  # SyncBN cannot run in a multi-process CPU run
    assert 'mmsdt.datasets' in cfg.custom_imports.imports
    assert cfg.model.backbone.get('init_cfg') is None  # trained from scratch
