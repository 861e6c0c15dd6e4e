"""The classification configs parse, build and run one forward; the ImageNet configs hold the
paper's recipe, the CIFAR configs read the seed's folders without downloading."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
# the 83M / 171M configs (ESpikeFormerLarge, SMA) are tested in test_large_configs.py
CLS = sorted(str(p) for p in (REPO / 'configs/e-spikeformer/cls').glob('*.py')
             if 'large' not in p.name)
IN1K = [c for c in CLS if c.endswith('_in1k.py')]
CIFAR = [c for c in CLS if '_cifar' in c]
TOY = str(REPO / 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py')
CHANNELS = {'2.7m': 128, '5.1m': 192, '10m': 240, '19m': 360}  # C3 per arch
pytestmark = pytest.mark.usefixtures('mmpretrain_scope')


def _name(path):
    return path.split('/')[-1]


def _build(cfg):
    """The model as mmengine's Runner builds it (the config's top-level data_preprocessor
    fills the model's, mmpretrain's convention)."""
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return MODELS.build(model_cfg)


def test_every_arch_has_an_imagenet_config_and_cifar_has_two():
    assert sorted(_name(c).split('_')[0] for c in IN1K) == sorted(
        f'e-spikeformer-{a}' for a in CHANNELS)
    assert sorted(_name(c).rsplit('_', 1)[1] for c in CIFAR) == ['cifar10.py', 'cifar100.py']


@pytest.mark.parametrize('path', CLS + [TOY], ids=_name)
def test_config_builds_and_runs_one_forward(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert dict(type='mmsdt.ClassDataCheckHook') in cfg.custom_hooks
    backbone, head = cfg.model.backbone, cfg.model.head
    assert head.type == 'mmsdt.SpikeLinearClsHead' and cfg.model.neck.type == 'GlobalAveragePooling'
    assert head.in_channels == CHANNELS[backbone.arch]
    assert backbone.out_indices == (4, ) and backbone.get('stage4_stride', 1) == 1  # stride 16
    assert cfg.data_preprocessor.num_classes == head.num_classes
    model = _build(cfg).eval()
    assert model.backbone.out_strides[-1] == (8 if path in CIFAR else 16)
    size = 32 if (path in CIFAR or path == TOY) else 64
    with torch.no_grad():
        logits = model(torch.rand(2, 3, size, size) * 255, mode='tensor')
    assert logits.shape == (2, head.num_classes) and torch.isfinite(logits).all()


@pytest.mark.parametrize('path', IN1K, ids=_name)
def test_imagenet_recipe_is_the_papers(path):
    cfg = Config.fromfile(path)
    optim = cfg.optim_wrapper
    # docs/reference_numbers.md: recipe-in1k
    assert optim.optimizer == dict(type='Lamb', lr=4.8e-3, weight_decay=0.05, trust_clip=True)
    assert optim.paramwise_cfg == dict(flat_decay_mult=0.0)  # decay on >= 2-D params only
    assert cfg.auto_scale_lr.base_batch_size == 2048 == 8 * cfg.train_dataloader.batch_size
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.convert_to_iter_based) == ('LinearLR', 5, True)
    assert (cosine.type, cosine.begin, cosine.end, cosine.eta_min) == (
        'CosineAnnealingLR', 5, 200, 1e-6) and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.model.head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                                       mode='original')
    assert 'train_cfg' not in cfg.model  # no mixup / cutmix batch augments
    assert cfg.model.backbone.drop_path_rate == 0.1
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert train['RandomResizedCrop'].scale == 224
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    assert (train['RandAugment'].magnitude_level, train['RandAugment'].magnitude_std,
            train['RandAugment'].policies) == (9, 0.5, 'timm_increasing')
    assert train['RandomErasing'].erase_prob == 0.25
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    assert (test['ResizeEdge'].scale, test['ResizeEdge'].interpolation) == (232, 'bicubic')
    assert test['CenterCrop'].crop_size == 224
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.type == 'ImageNet' and loader.dataset.data_root == 'data/imagenet'
        assert not loader.dataset.get('ann_file')  # the folder layout is enough


def test_drop_path_reaches_the_blocks():
    cfg = Config.fromfile(IN1K[0])
    model = _build(cfg)
    rates = [b.drop_path.drop_prob for b in model.backbone.block4]
    assert rates[-1] == pytest.approx(0.1)


@pytest.mark.parametrize('path', CIFAR, ids=_name)
def test_cifar_reads_the_seed_folder_without_downloading(path, tmp_path):
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(path)
    assert cfg.model.backbone.stem_stride == 1
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert loader.dataset.data_root == 'data' and loader.dataset.download is False
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg.data_root = str(tmp_path)  # no CIFAR here: an error, not a download
    with pytest.raises(RuntimeError, match=str(tmp_path)):
        DATASETS.build(dataset_cfg)
    assert list(tmp_path.iterdir()) == []
