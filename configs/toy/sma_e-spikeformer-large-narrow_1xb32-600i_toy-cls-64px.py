# Embedded default (SMA pre-training, make run TASK=sma): the spike-masked autoencoder on the
# toy classification images WITHOUT their labels (mmpretrain's CustomDataset with
# with_label=False over data/toy_cls/train). The encoder is a narrow ESpikeFormerLarge (the same
# code as the 83M model, widths (16, 32, 128), 4 blocks, one attention head, RepConv2, no
# layer scales); the decoder a narrow SpikeMAEDecoder (128 wide, 2 blocks; docs/sma.md has the
# full-size settings and why one head).
_base_ = ['../_base_/toy_cpu_runtime_cls.py']
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.models.selfsup', 'mmsdt.engine'],
                      allow_failed_imports=False)
custom_hooks = []  # no classes to check: the labels are not read

NARROW_ARCH = dict(embed_dims=(16, 32, 128), depth=4, num_heads=1, mlp_ratio=4,
                   rep_conv2=True)
model = dict(
    type='mmsdt.SpikeMAE',
    backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=NARROW_ARCH,
                  layer_scale_init_value=None),
    neck=dict(type='mmsdt.SpikeMAEDecoder', in_channels=128, embed_dims=128, depth=2,
              num_heads=4, mlp_ratio=4, patch_size=16, use_mask_token=True),
    head=dict(type='mmsdt.SpikeMAEPretrainHead', norm_pix=True, patch_size=16,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    mask_ratio=0.5,
    data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], to_rgb=True))

data_root = 'data/toy_cls/'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 with_label=False, pipeline=train_pipeline))

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
# AdamW with the SMA betas (0.9, 0.95), weight decay 0.05 on >= 2-dim parameters, warm-up,
# cosine.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, eta_min=1e-5, by_epoch=False,
         begin=30, end=max_iters),
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                                     max_keep_ckpts=1))
