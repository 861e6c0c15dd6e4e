# Embedded default (classification): the 2.7m E-SpikeFormer classifier of the ImageNet configs
# (averaged stage-4 output -> integer spike -> Linear), trained from scratch on the generated toy
# set (6 shape / texture classes, 500 training images each, 64x64) for 800 iterations of 32
# images on CPU (see README.md).
_base_ = [
    '../_base_/datasets/toy_cls_64x64.py',
    '../_base_/toy_cpu_runtime_cls.py',
]

model = dict(
    type='ImageClassifier',
    # zero_init_residual: every block starts as the identity (from scratch)
    backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(4, ),
                  compact_spikes=False, zero_init_residual=True),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=6, in_channels=128,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))

max_iters = 800
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# AdamW lr 4e-3 (one parameter group per distinct lr / weight decay), no decay on 1-dim
# parameters, 50-iteration warm-up, cosine to 1e-5.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5, by_epoch=False,
         begin=50, end=max_iters),
]
