# Embedded default (make run TASK=sma), fine-tuning FROM SCRATCH: the narrow ESpikeFormerLarge
# of the SMA pre-training config (widths (16, 32, 128), 4 blocks, one attention head,
# RepConv2) with layer scales, mmpretrain's GlobalAveragePooling and mmsdt.SpikeDistillClsHead
# (no teacher: both heads learn the labels), trained on 10 % of the toy training labels: every
# 10th image (sorted by name) of each class, 50 per class, listed in
# data/toy_cls/meta/train_10pct.txt
# (mmsdt.datasets.toy.label_subset.write_label_subset; make run TASK=sma writes it). The val
# split and the metric are those of the toy classification config. The SMA fine-tuning is
# this config with backbone.init_cfg = dict(type='Pretrained', checkpoint=<the encoder that
# mmsdt.models.selfsup.convert_sma_checkpoint writes>, prefix='backbone.') (tools/run_toy.py
# --task sma sets it).
_base_ = [
    '../_base_/datasets/toy_cls_64x64.py',
    '../_base_/toy_cpu_runtime_cls.py',
]

NARROW_ARCH = dict(embed_dims=(16, 32, 128), depth=4, num_heads=1, mlp_ratio=4,
                   rep_conv2=True)
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=NARROW_ARCH, drop_path_rate=0.1,
                  layer_scale_init_value=1e-6),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeDistillClsHead', num_classes=6, in_channels=128,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5)))

train_dataloader = dict(
    dataset=dict(ann_file='meta/train_10pct.txt',
                 metainfo=dict(classes=('checkered', 'circle', 'ring', 'square', 'striped',
                                        'triangle'))))

max_iters = 300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, eta_min=1e-5, by_epoch=False,
         begin=30, end=max_iters),
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                                     max_keep_ckpts=1))
