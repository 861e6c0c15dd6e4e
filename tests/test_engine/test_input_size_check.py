"""Train / val input size of classification configs: the issue's 32x32 case is stopped before
the first step, every classification config gives one input size whatever the image size, and
the toy pipelines give the same tensors as before on the toy's own images."""
import glob
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmsdt.datasets import generate_toy_cls
from mmsdt.engine.hooks.data_check_error import InputSizeError
from mmsdt.engine.hooks.input_size_check import check_same_input_size, sample_input

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
GAC_TOY = REPO / 'projects/gac/configs/toy/gac-msresnet18-w8-t4_1xb32-1400i_toy-cls-32px.py'
CLS_CONFIGS = sorted([str(TOY)] + glob.glob(str(REPO / 'configs/e-spikeformer/cls/*.py')) + [
    p for p in glob.glob(str(REPO / 'projects/gac/configs/**/*.py'), recursive=True)
    if '/_base_/' not in p])
# the toy pipelines before they resized (the issue's config: a 32x32 image trains at 40x40)
OLD_TOY_TRAIN = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=64, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
OLD_TEST = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.fixture(scope='module')
def toy32(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy32') / 'toy_cls32'
    generate_toy_cls(str(root), num_train=1, num_val=1, size=32)
    return root


def _cfg(path, root=None):
    cfg = Config.fromfile(str(path))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if root is not None:
            cfg[loader].dataset.data_root = f'{root}/'
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].batch_size = 2
    return cfg


def test_the_issue_case_stops_before_the_first_step(toy32, tmp_path):
    """The toy config on 32x32 images with its old pipelines (only data root and class count
    changed): train inputs 40x40, val 32x32."""
    from mmengine.runner import Runner
    cfg = _cfg(TOY, toy32)
    cfg.train_dataloader.dataset.pipeline = OLD_TOY_TRAIN
    cfg.val_dataloader.dataset.pipeline = OLD_TEST
    cfg.test_dataloader.dataset.pipeline = OLD_TEST
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(InputSizeError, match=r'the train pipeline gives inputs of shape '
                       r'\(3, 40, 40\) \(.*\.JPEG of size 32x32, LoadImageFromFile -> RandomCrop '
                       r'-> RandomFlip -> PackInputs\) but the val pipeline \(3, 32, 32\)'):
        runner.train()
    assert runner.iter == 0


@pytest.mark.usefixtures('mmpretrain_scope')
def test_the_toy_config_on_32px_images_trains_and_tests_at_64(toy32):
    from mmpretrain.registry import DATASETS
    cfg = _cfg(TOY, toy32)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    check_same_input_size(train, val)
    assert sample_input(train)[0] == sample_input(val)[0] == (3, 64, 64)


@pytest.mark.usefixtures('mmpretrain_scope')
def test_a_sample_for_the_check_leaves_the_random_streams_alone(toy32):
    from mmpretrain.registry import DATASETS
    cfg = _cfg(TOY, toy32)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(3)
    torch.manual_seed(3)
    expected = np.random.rand(), torch.rand(1)
    np.random.seed(3)
    torch.manual_seed(3)
    sample_input(train)
    assert (np.random.rand(), torch.rand(1)) == expected


def _run(pipeline, img, seed):
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS
    steps = Compose([TRANSFORMS.build(t) for t in pipeline if t['type'] != 'LoadImageFromFile'])
    np.random.seed(seed)
    h, w = img.shape[:2]
    return steps(dict(img=img.copy(), img_shape=(h, w), ori_shape=(h, w), gt_label=0))['inputs']


@pytest.mark.usefixtures('mmpretrain_scope')
@pytest.mark.parametrize('path, size', [(TOY, 64), (GAC_TOY, 32)], ids=['toy', 'gac-toy'])
def test_toy_pipelines_give_the_same_tensors_as_before_on_toy_images(path, size):
    import mmsdt.datasets  # noqa: F401  (mmsdt.CheckedRandomCrop)
    cfg = Config.fromfile(str(path))
    old_train = [dict(t, crop_size=size) if t['type'] == 'RandomCrop' else t
                 for t in OLD_TOY_TRAIN]
    img = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    new_train, new_test = cfg.train_dataloader.dataset.pipeline, \
        cfg.val_dataloader.dataset.pipeline
    assert [t['type'] for t in new_train][1:3] == ['Resize', 'mmsdt.CheckedRandomCrop']
    for seed in range(8):
        assert torch.equal(_run(new_train, img, seed), _run(old_train, img, seed))
    assert torch.equal(_run(new_test, img, 0), _run(OLD_TEST, img, 0))


@pytest.mark.usefixtures('mmpretrain_scope')
@pytest.mark.parametrize('path', CLS_CONFIGS, ids=lambda p: Path(p).name)
def test_train_and_test_pipelines_give_one_size_whatever_the_image_size(path):
    import mmsdt.datasets  # noqa: F401
    cfg = Config.fromfile(path)
    rng = np.random.default_rng(0)
    shapes = set()
    for h, w in [(24, 40), (32, 32), (300, 200)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        # label-free pre-training configs (SMA) have a train loader only
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')[
                :1 if cfg.model.type == 'mmsdt.SpikeMAE' else 3]:
            shapes.add(tuple(_run(cfg[loader].dataset.pipeline, img, 0).shape))
    assert len(shapes) == 1, f'{Path(path).name}: inputs of shapes {sorted(shapes)}'
