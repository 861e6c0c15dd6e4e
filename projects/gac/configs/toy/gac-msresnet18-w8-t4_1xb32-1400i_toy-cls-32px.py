# Embedded default of projects/gac (make run TASK=gac): GAC-MSResNet-18 (the CIFAR topology,
# 3-3-2 blocks) at 1/8 width (stem 8, stages 16 / 32 / 64 channels; the full width takes
# ~2.2 s per step of 32 images on 2 cores, 1/8 takes 0.33 s), T = 4, CIFAR LIF preset, trained
# from scratch on the toy classification set at 32x32 (6 classes, 500 training images each)
# for 1400 iterations of 32 images on CPU. AdamW 3e-3 (the official SGD 0.1 learns too slowly
# at this budget: 0.81 top-1 after 1000 steps, training loss still 0.5; README), 50 warm-up
# steps, cosine per iteration; no CutMix (too few steps for it to pay).
_base_ = [
    '../../../../configs/_base_/datasets/toy_cls_64x64.py',
    '../../../../configs/_base_/toy_cpu_runtime_cls.py',
]
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'projects.gac.gac'],
                      allow_failed_imports=False)

# Both pipelines resize to 32x32 first (a copy for the toy_cls32 images), so train and val
# inputs have one size whatever the images' size.
data_root = 'data/toy_cls32/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=32),
    dict(type='mmsdt.CheckedRandomCrop', crop_size=32, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=32),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

time_steps = 4
gate = 'learned'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.MSResNet', time_steps=time_steps, neuron='cifar',
                  arch=dict(stem='cifar', stem_channels=8, widths=(16, 32, 64),
                            depths=(3, 3, 2), strides=(1, 2, 2)),
                  encoder=dict(gate=gate)),
    head=dict(type='mmsdt.TimeAveragedClsHead', num_classes=6, in_channels=64, neuron='cifar',
              topk=(1, 5), loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

max_iters = 1400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=3e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5, by_epoch=False,
         begin=50, end=max_iters),
]
