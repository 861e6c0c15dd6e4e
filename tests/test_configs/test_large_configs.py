"""The large-model configs (83M / 171M fine-tuning at 224 / 384 with D = 4 / 8, distillation,
SMA pre-training) parse and build, carry the paper's recipes (reference sdt_v3_upstream.md
§3.2, upstream Train_Large.md), and EMA weights are what validation uses and checkpoints hold
(a tiny training run of a narrow arch)."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmsdt.models import ESpikeFormerLarge
from mmsdt.snn.neuron import MultiSpike

REPO = Path(__file__).resolve().parents[2]
CLS = REPO / 'configs/e-spikeformer/cls'
FINETUNE = sorted(str(p) for p in CLS.glob('e-spikeformer-large-*.py') if 'distill' not in p.name)
DISTILL = str(CLS / 'e-spikeformer-large-83m-d4_8xb196-100e_in1k-distill.py')
PRETRAIN = sorted(str(p) for p in CLS.glob('spikemae_e-spikeformer-large-*.py'))
NARROW = dict(embed_dims=(16, 32, 64), depth=2, num_heads=2, mlp_ratio=4, rep_conv2=True)
# the released files (upstream Train_Large.md) -> (arch, D, input size) of their config
RELEASED = {'171M_1x4': ('171m', 4, 224), '171M_1x8': ('171m', 8, 224),
            '171M_1x8_384': ('171m', 8, 384), '83M_1x4': ('83m', 4, 224),
            '83M_1x8': ('83m', 8, 224)}
pytestmark = pytest.mark.usefixtures('mmpretrain_scope')


@pytest.fixture(autouse=True)
def eager_kernels(monkeypatch):
    """The eager spike path: the fused training kernels' one-off compilation (tens of
    seconds at 224 px) is not what these tests check (tests/test_snn/test_fused.py does)."""
    monkeypatch.setenv('MMSDT_FUSED_KERNELS', '0')


def _name(path):
    return path.split('/')[-1]


def _build(model_cfg, cfg):
    from mmpretrain.registry import MODELS
    model_cfg = model_cfg.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return MODELS.build(model_cfg)


def _narrow(cfg, num_classes=None):
    """The config's model with the narrow arch (same code, small widths)."""
    model = cfg.model.copy()
    model.backbone = dict(model.backbone, arch=NARROW)
    if 'head' in model and model.head.get('in_channels'):
        model.head = dict(model.head, in_channels=NARROW['embed_dims'][-1])
        if num_classes:
            model.head['num_classes'] = num_classes
    if model.get('neck', {}).get('in_channels'):
        model.neck = dict(model.neck, in_channels=NARROW['embed_dims'][-1])
    return model


def _test_size(cfg):
    return next(t.crop_size for t in cfg.test_dataloader.dataset.pipeline
                if t.type == 'CenterCrop')


def test_every_released_file_has_a_config():
    found = {}
    for path in FINETUNE:
        cfg = Config.fromfile(path)
        found[(cfg.model.backbone.arch, cfg.model.backbone.max_value, _test_size(cfg))] = path
    assert set(RELEASED.values()) <= set(found)
    # every size at 224 and 384
    assert {(a, s) for a, _, s in found} == {(a, s) for a in ('83m', '171m') for s in (224, 384)}


@pytest.mark.parametrize('path', FINETUNE, ids=_name)
def test_finetune_config_builds_and_runs_one_forward(path):
    cfg = Config.fromfile(path)
    backbone, head = cfg.model.backbone, cfg.model.head
    assert backbone.type == 'mmsdt.ESpikeFormerLarge' and head.type == 'mmsdt.SpikeDistillClsHead'
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    # D from the config, the same in the backbone and before head_kd; half-up rounding
    assert backbone.max_value == head.max_value and backbone.max_value in (4, 8)
    assert backbone.rounding == head.rounding == 'half_up'
    assert ('-d8_' in path) == (backbone.max_value == 8)
    assert ('-384px' in path) == (_test_size(cfg) == 384)
    embed_dims = ESpikeFormerLarge.arch_settings[backbone.arch]['embed_dims']
    assert head.in_channels == embed_dims[-1] and head.num_classes == 1000
    assert cfg.data_preprocessor.num_classes == 1000
    model = _build(_narrow(cfg), cfg).eval()
    spikes = [m for m in model.modules() if isinstance(m, MultiSpike)]
    assert spikes and all(m.max_value == backbone.max_value for m in spikes)
    assert all(m.rounding == 'half_up' for m in spikes)
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 224, 224) * 255, mode='tensor')
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()


@pytest.mark.parametrize('path', FINETUNE, ids=_name)
def test_finetune_recipe_is_the_papers(path):
    cfg = Config.fromfile(path)
    optim = cfg.optim_wrapper
    # blr 6e-4 x 8 x 128 / 256
    assert cfg.train_dataloader.batch_size == 128 == cfg.auto_scale_lr.base_batch_size / 8
    assert optim.optimizer == dict(type='Lamb', lr=6e-4 * 1024 / 256, weight_decay=0.05,
                                   trust_clip=True)
    assert optim.constructor == 'LearningRateDecayOptimWrapperConstructor'
    assert optim.paramwise_cfg == dict(layer_decay_rate=0.75, flat_decay_mult=0.0)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.begin, warmup.end) == ('LinearLR', 0, 10)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR', 10, 150)
    assert cosine.eta_min_ratio * optim.optimizer.lr == pytest.approx(1e-6)
    assert cfg.train_cfg.max_epochs == 150
    assert cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.model.train_cfg.augments == [dict(type='Mixup', alpha=0.8),
                                            dict(type='CutMix', alpha=1.0)]
    assert cfg.model.head.loss == dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                                       mode='original')
    train = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    size = _test_size(cfg)
    assert train['RandomResizedCrop'].scale == size
    assert train['RandomResizedCrop'].interpolation == 'bicubic'
    assert train['RandomErasing'].erase_prob == 0.25
    assert (train['RandAugment'].magnitude_level, train['RandAugment'].magnitude_std) == (9, 0.5)
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    # upstream's crop_pct: 224 / 232 at 224, 1.0 above
    assert test['ResizeEdge'].scale == (232 if size == 224 else size)
    ema = next(h for h in cfg.custom_hooks if h.type == 'EMAHook')
    assert ema.momentum == pytest.approx(1 - 0.99996) and ema.update_buffers
    assert dict(type='mmsdt.ClassDataCheckHook') in cfg.custom_hooks


def test_layer_decay_groups_of_the_recipe():
    """The config's optimizer wrapper on a narrow model: the conv stages get 0.75^(depth+1),
    block i 0.75^(depth-i), the head the base lr; 1-D parameters no weight decay."""
    from mmengine.optim import build_optim_wrapper
    cfg = Config.fromfile(FINETUNE[0])
    model = _build(_narrow(cfg), cfg)
    optim = dict(cfg.optim_wrapper, type='OptimWrapper')
    groups = build_optim_wrapper(model, optim).optimizer.param_groups
    base, depth = optim['optimizer']['lr'], NARROW['depth']
    by_name = {g['param_name']: g for g in groups}
    assert len(by_name) == sum(1 for _ in model.parameters())
    for name, group in by_name.items():
        if name.startswith(('backbone.downsample', 'backbone.ConvBlock')):
            scale = 0.75 ** (depth + 1)
        elif name.startswith('backbone.block3.'):
            scale = 0.75 ** (depth - int(name.split('.')[2]))
        else:
            assert name.startswith('head.'), name
            scale = 1.0
        assert group['lr'] == pytest.approx(base * scale), name
        param = dict(model.named_parameters())[name]
        assert group['weight_decay'] == (0.0 if param.ndim == 1 else 0.05), name


def test_distill_config_is_upstreams_distillation_run(tmp_path):
    cfg = Config.fromfile(DISTILL)
    assert cfg.model.type == 'mmsdt.DistillImageClassifier'
    assert cfg.model.head.alpha == 0.5
    assert set(cfg.model.teacher) == {'config', 'checkpoint'}
    from mmsdt.models.classifiers.distill_image_classifier import load_config
    teacher_cfg = load_config(cfg.model.teacher.config)  # the named mmpretrain config
    assert teacher_cfg.model.head.num_classes == cfg.model.head.num_classes
    # Train_Large.md "Distillation": batch 196, blr 1e-3, 5 warm-up, 100 epochs, mixup 0.5
    assert cfg.train_dataloader.batch_size == 196
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-3 * 8 * 196 / 256)
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 1.0
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cfg.train_cfg.max_epochs) == (5, 5, 100, 100)
    assert cfg.model.train_cfg.augments[0] == dict(type='Mixup', alpha=0.5)
    assert cfg.model.backbone.max_value == 4 and cfg.load_from


def test_distill_config_builds_with_a_teacher_and_trains_one_step(tmp_path):
    """The distillation config with a small stand-in teacher (an mmpretrain ResNet config and
    its checkpoint): one loss step of the narrow student at 224."""
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(DISTILL)
    teacher_cfg = Config(dict(
        model=dict(type='ImageClassifier',
                   backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=1000, in_channels=64)),
        data_preprocessor=cfg.data_preprocessor))
    teacher_cfg.dump(str(tmp_path / 'teacher.py'))
    teacher = MODELS.build(dict(teacher_cfg.model, data_preprocessor=cfg.data_preprocessor))
    torch.save(dict(state_dict=teacher.state_dict()), tmp_path / 'teacher.pth')
    model_cfg = _narrow(cfg)
    model_cfg.teacher = dict(config=str(tmp_path / 'teacher.py'),
                             checkpoint=str(tmp_path / 'teacher.pth'))
    model = _build(model_cfg, cfg).train()
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 224, 224), dtype=torch.uint8) for _ in range(2)],
        data_samples=[DataSample().set_gt_label(i) for i in (3, 7)]), training=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert set(losses) >= {'loss_head', 'loss_head_kd'}
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize('path', PRETRAIN, ids=_name)
def test_pretrain_config_builds_and_runs_one_loss(path):
    from mmpretrain.structures import DataSample
    cfg = Config.fromfile(path)
    model_cfg = cfg.model
    assert model_cfg.type == 'mmsdt.SpikeMAE' and model_cfg.mask_ratio == 0.5
    backbone = model_cfg.backbone
    assert backbone.type == 'mmsdt.ESpikeFormerLarge' and backbone.layer_scale_init_value is None
    embed_dims = ESpikeFormerLarge.arch_settings[backbone.arch]['embed_dims']
    assert model_cfg.neck.in_channels == embed_dims[-1]
    # one width per size: the fine-tuning config of the same arch has the same embed_dims
    assert backbone.arch in path and embed_dims[0] in (128, 196)
    assert (model_cfg.neck.embed_dims, model_cfg.neck.depth, model_cfg.neck.num_heads) == (
        256, 4, 4) and model_cfg.neck.use_mask_token
    assert model_cfg.head.norm_pix and model_cfg.head.loss.criterion == 'L2'
    # recipe: AdamW (0.9, 0.95), blr 1.5e-4 x 8 x 256 / 256, wd 0.05, 20 warm-up, 200 epochs
    optim = cfg.optim_wrapper.optimizer
    assert (optim.type, optim.betas, optim.weight_decay) == ('AdamW', (0.9, 0.95), 0.05)
    assert cfg.train_dataloader.batch_size == 256 == cfg.auto_scale_lr.base_batch_size / 8
    assert optim.lr == pytest.approx(1.5e-4 * 2048 / 256)
    warmup, cosine = cfg.param_scheduler
    assert (warmup.end, cosine.begin, cosine.end, cfg.train_cfg.max_epochs) == (20, 20, 200, 200)
    crop = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'RandomResizedCrop')
    assert (crop.scale, crop.crop_ratio_range, crop.interpolation) == (224, (0.2, 1.0), 'bicubic')
    assert any(t.type == 'RandomFlip' for t in cfg.train_dataloader.dataset.pipeline)
    import importlib
    for module in cfg.custom_imports.imports:
        importlib.import_module(module)
    model = _build(_narrow(cfg), cfg).train()
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)],  # one view, collated
        data_samples=[DataSample() for _ in range(2)]), training=True)
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())


def _image_folder(root, n_per_class=2, size=240):
    from PIL import Image
    g = torch.Generator().manual_seed(0)
    for c in ('a', 'b'):
        (root / c).mkdir(parents=True)
        for i in range(n_per_class):
            pixels = torch.randint(0, 256, (size, size, 3), generator=g, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(root / c / f'{i}.png')


def test_ema_weights_are_validated_and_saved(tmp_path):
    """Two epochs of the 83M-d4 fine-tuning config (its pipelines, optimizer, layer decay,
    mixup / cutmix and EMA hook) on a narrow arch and 4 images: validation runs with the EMA
    weights, and the checkpoint's state_dict holds them (the raw ones in ema_state_dict)."""
    from mmengine.hooks import Hook

    from mmsdt.utils.checkpoint import load_checkpoint_file
    from mmsdt.utils.launch import build_runner

    class Probe(Hook):
        """The first block's q weight at validation, before and after the EMA swap."""

        def __init__(self, priority):
            self.priority = priority
            self.seen = []

        def before_val_epoch(self, runner):
            model = runner.model
            self.seen.append(model.backbone.block3[0].attn.q_conv[0].conv1[0].weight.clone())

    _image_folder(tmp_path / 'data')
    cfg = Config.fromfile(FINETUNE[FINETUNE.index(
        str(CLS / 'e-spikeformer-large-83m-d4_8xb128-150e_in1k.py'))])
    cfg.model = _narrow(cfg, num_classes=2)
    cfg.data_preprocessor.num_classes = 2
    cfg.optim_wrapper.type = 'OptimWrapper'  # no AMP on CPU
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset = dict(type='CustomDataset', data_root=str(tmp_path / 'data'),
                              pipeline=loader.dataset.pipeline)
    cfg.val_evaluator = cfg.test_evaluator = dict(type='Accuracy', topk=(1, ))
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.randomness = dict(seed=0)
    assert cfg.runner_type == 'mmsdt.SafeRunner'
    runner = build_runner(cfg)  # as tools/train.py
    raw, swapped = Probe('HIGHEST'), Probe('LOWEST')
    runner.register_hook(raw)
    runner.register_hook(swapped)
    runner.train()
    ema_hook = next(h for h in runner.hooks if type(h).__name__ == 'EMAHook')
    key = 'backbone.block3.0.attn.q_conv.0.conv1.0.weight'
    ema_value = ema_hook.ema_model.module.state_dict()[key]
    raw_value = runner.model.state_dict()[key]
    assert not torch.equal(raw_value, ema_value)  # the EMA differs from the trained weights
    assert torch.equal(swapped.seen[-1], ema_value)  # validation ran with the EMA weights
    assert torch.equal(raw.seen[-1], raw_value)
    ckpt = load_checkpoint_file(tmp_path / 'work' / 'epoch_2.pth')
    assert torch.equal(ckpt['state_dict'][key], ema_value)  # the checkpoint holds the EMA
    assert torch.equal(ckpt['ema_state_dict']['module.' + key], raw_value)
    # the BN buffers are averaged too (update_buffers=True)
    bn = 'backbone.block3.0.attn.q_conv.0.conv1.1.running_mean'
    if bn in ckpt['state_dict']:
        assert not torch.equal(ckpt['state_dict'][bn], runner.model.state_dict()[bn])
    assert math.isfinite(runner.message_hub.get_scalar('val/accuracy/top1').current())
