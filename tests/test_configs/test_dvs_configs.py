"""The event-camera configs (configs/e-spikeformer/dvs) parse, build and run one forward on
frames with a time axis; their data pipelines turn a fake release tree into the frames the
model is configured for; the HARDVS config holds the paper's recipe with its defects
corrected (reference ../shared/reference/dvs.md sections 3.1, 4 and 8); the minimal config of
docs/events.md builds and takes one training step on a fake N-MNIST tree."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
DVS = sorted(str(p) for p in (REPO / 'configs/e-spikeformer/dvs').glob('*.py'))
HARDVS = next(c for c in DVS if 'hardvs' in c)
CHANNELS = {'2.7m': 128, '5.1m': 192, '10m': 240, '19m': 360}  # C3 per arch
# (T, H, W) of the frames each config's test pipeline gives
FRAMES = {'hardvs': (8, 224, 224), 'dvs128-gesture': (16, 128, 128),
          'cifar10-dvs': (8, 64, 64), 'nmnist': (8, 34, 34)}
pytestmark = pytest.mark.usefixtures('mmpretrain_scope')


def _name(path):
    return path.split('/')[-1]


def _data_set(path):
    return next(k for k in FRAMES if f'_{k}-' in _name(path))


def _build(cfg):
    from mmpretrain.registry import MODELS
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return MODELS.build(model_cfg)


def test_one_config_per_data_set():
    assert sorted(_data_set(c) for c in DVS) == sorted(FRAMES)


@pytest.mark.parametrize('path', DVS, ids=_name)
def test_config_builds_and_runs_one_forward_with_time(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert dict(type='mmsdt.ClassDataCheckHook') in cfg.custom_hooks
    assert 'mmsdt.datasets' in cfg.custom_imports.imports
    backbone, head = cfg.model.backbone, cfg.model.head
    assert backbone.in_channels == 2 and head.in_channels == CHANNELS[backbone.arch]
    assert cfg.data_preprocessor.num_classes == head.num_classes
    steps = FRAMES[_data_set(path)][0]
    assert cfg.data_preprocessor.num_frames == steps  # the model's T is the data's T
    model = _build(cfg).eval()
    size = 34 if 'nmnist' in path else 32  # small frames keep the test fast
    frames = torch.rand(steps, 2, size, size).round()
    with torch.no_grad():
        data = model.data_preprocessor(dict(inputs=[frames]), training=False)
        assert data['inputs'].shape == (1, steps, 2, size, size)
        logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (1, head.num_classes) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match='num_frames'):  # T that differs from the model's
        model.data_preprocessor(dict(inputs=[frames[:steps - 1]]), training=False)


# fake release trees --------------------------------------------------------------------

def _events(n, width, height, seed):
    from mmsdt.datasets.events import EVENT_DTYPE
    rng = np.random.default_rng(seed)
    events = np.zeros(n, EVENT_DTYPE)
    events['x'] = rng.integers(0, width, n)
    events['y'] = rng.integers(0, height, n)
    events['t'] = np.sort(rng.integers(0, 300_000, n))
    events['p'] = rng.random(n) < 0.5
    return events


def _gesture_tree(root):
    for split, user in (('ibmGestureTrain', 'user01_led'), ('ibmGestureTest', 'user24_led')):
        folder = root / split / user
        folder.mkdir(parents=True)
        ev = _events(2000, 128, 128, 0)
        # tonic's layout: (N, 4) x, y, p, t in ms
        np.save(folder / '4.npy', np.stack([ev['x'], ev['y'], ev['p'], ev['t'] // 1000], 1))


def _cifar_tree(root):
    pytest.importorskip('dv_processing', reason='writing AEDAT 4.0 needs the events extra')
    pytest.importorskip('aedat', reason='reading AEDAT 4.0 needs the events extra')
    from mmsdt.datasets.events import write_events
    from mmsdt.datasets.events.cifar10_dvs import CIFAR10DVS
    for name in CIFAR10DVS.METAINFO['classes']:
        (root / name).mkdir(parents=True)
        for i in range(5):  # 4 train, 1 test (round(5 * 0.1) half up)
            write_events(str(root / name / f'cifar10_{name}_{i}.aedat4'),
                         _events(500, 128, 128, i), (128, 128))


def _nmnist_tree(root):
    from mmsdt.datasets.events import write_events
    for split in ('Train', 'Test'):
        for d in range(10):
            (root / split / str(d)).mkdir(parents=True)
            write_events(str(root / split / str(d) / '00001.bin'), _events(300, 34, 34, d),
                         (34, 34))


def _hardvs_tree(root):
    (root / 'list').mkdir(parents=True)
    for split, label in (('train', 0), ('val', 1), ('test', 2)):
        (root / 'list' / f'{split}_label.txt').write_text(f'action_00{label}/rec 10 {label}\n')
        folder = root / 'rawframes' / f'action_00{label}' / 'rec' / 'sub'
        folder.mkdir(parents=True)
        for k in range(10):
            img = np.full((260, 346), 128, np.uint8)
            img[100:120, 10 * k:10 * k + 20] = 0
            Image.fromarray(img).save(folder / f'{k}.png')


TREES = {'hardvs': _hardvs_tree, 'dvs128-gesture': _gesture_tree,
         'cifar10-dvs': _cifar_tree, 'nmnist': _nmnist_tree}


@pytest.mark.parametrize('path', DVS, ids=_name)
def test_pipelines_give_the_configured_frames(path, tmp_path):
    from mmpretrain.registry import DATASETS
    cfg = Config.fromfile(path)
    kind = _data_set(path)
    TREES[kind](tmp_path)
    steps, height, width = FRAMES[kind]
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        dataset_cfg = loader.dataset.copy()
        dataset_cfg.data_root = str(tmp_path)
        dataset = DATASETS.build(dataset_cfg)
        out = dataset[0]
        assert out['inputs'].shape == (steps, 2, height, width)
        assert out['inputs'].dtype == torch.float32 and out['inputs'].sum() > 0
        assert out['data_samples'].num_frames == steps


# the HARDVS recipe ---------------------------------------------------------------------

def test_hardvs_recipe_is_the_papers_corrected():
    cfg = Config.fromfile(HARDVS)
    # dvs.md section 4: AdamW, lr = 4e-5 * 72 / 256, wd 1e-2 on >= 2-D parameters only
    optim = cfg.optim_wrapper
    assert optim.optimizer == dict(type='AdamW', lr=1.125e-5, betas=(0.9, 0.999),
                                   weight_decay=1e-2)
    assert optim.paramwise_cfg == dict(flat_decay_mult=0.0)
    assert cfg.auto_scale_lr.base_batch_size == 72 == 3 * cfg.train_dataloader.batch_size
    assert optim.clip_grad.max_norm == 1.0  # hard-coded grad clip 1 (section 4)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.convert_to_iter_based) == ('LinearLR', 10, True)
    assert (cosine.type, cosine.begin, cosine.end, cosine.eta_min) == (
        'CosineAnnealingLR', 10, 100, 1e-6) and cosine.convert_to_iter_based
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.model.head.loss.label_smooth_val == 0.1
    ema = next(h for h in cfg.custom_hooks if h.type == 'EMAHook')
    assert ema.momentum == pytest.approx(1 - 0.999) and ema.update_buffers
    assert cfg.randomness.seed == 42
    # the 19M DVS model: 2 input channels, layer scale 1e-6, T = 8, 224x224
    backbone = cfg.model.backbone
    assert (backbone.arch, backbone.layer_scale_init_value) == ('19m', 1e-6)
    assert backbone.neuron_mode == 'stateless'
    # section 8 item 25: model selection on val, the test split only for tools/test.py
    assert cfg.val_dataloader.dataset.split == 'val'
    assert cfg.test_dataloader.dataset.split == 'test'
    # section 3.1 / 8 items 12-14: thresholds as parameters, deterministic test clip,
    # one flip per clip
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    load = train['mmsdt.LoadHARDVSFrames']
    assert tuple(load.thresholds) == (0.12, 0.30, 0.78)
    assert (load.clip_len, load.scale, load.crop_size) == (8, 256, 224)
    assert test['mmsdt.LoadHARDVSFrames'].test_mode is True
    assert not load.get('test_mode', False)
    assert train['mmsdt.EventRandomFlip'].prob == 0.5
    assert 'mmsdt.EventRandomFlip' not in test


def test_hardvs_backbone_has_the_papers_parameter_count():
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(HARDVS)
    backbone = MODELS.build(cfg.model.backbone)
    # dvs.md section 2.1: the 19M DVS backbone has 18,631,704 parameters (2-channel stem and
    # layer scale; computed there by arithmetic from the layer shapes)
    assert sum(p.numel() for p in backbone.parameters()) == 18_631_704


def test_gesture_has_no_flip():
    cfg = Config.fromfile(next(c for c in DVS if 'gesture' in c))
    types = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    # mirroring swaps left / right hand and clockwise / counter-clockwise classes
    assert 'mmsdt.EventRandomFlip' not in types
    assert cfg.train_dataloader.dataset.type == 'mmsdt.DVS128Gesture'


# the minimal config of docs/events.md ---------------------------------------------------

def _doc_config(tmp_path):
    """The python block under 'A minimal config' in docs/events.md, written as a file of
    configs/e-spikeformer/dvs/ (its `_base_` paths are relative to that folder)."""
    text = (REPO / 'docs/events.md').read_text(encoding='utf-8')
    section = text.split('## A minimal config', 1)[1]
    code = section.split('```python\n', 1)[1].split('```', 1)[0]
    folder = tmp_path / 'configs/e-spikeformer/dvs'
    folder.mkdir(parents=True)
    (tmp_path / 'configs/_base_').symlink_to(REPO / 'configs/_base_')
    path = folder / 'doc_config.py'
    path.write_text(code)
    return Config.fromfile(str(path))


def test_docs_minimal_config_builds_and_trains_one_step_on_fake_nmnist(tmp_path):
    from mmpretrain.registry import DATASETS
    cfg = _doc_config(tmp_path)
    steps = cfg.model.data_preprocessor.num_frames
    assert cfg.model.backbone.neuron_mode == 'stateful'
    model = _build(cfg)
    _nmnist_tree(tmp_path / 'nmnist')
    batch = []
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        dataset_cfg = loader.dataset.copy()
        dataset_cfg.data_root = str(tmp_path / 'nmnist')
        batch.append(DATASETS.build(dataset_cfg)[0])
    assert all(b['inputs'].shape == (steps, 2, 34, 34) for b in batch)
    data = model.data_preprocessor(dict(inputs=[b['inputs'] for b in batch],
                                        data_samples=[b['data_samples'] for b in batch]),
                                   training=True)  # EventMix runs in training
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert torch.isfinite(losses['loss'])
