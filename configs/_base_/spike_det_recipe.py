# The SDT-V3 detection recipe on top of the stock mmdet COCO bases (paper §4.12 of the
# reference): AdamW lr 2e-4, wd 0.05 without decay on norm and bias parameters (matched by
# module type / parameter name by mmengine, so our BN layers are covered), 1000-iter linear
# warm-up, DETR-style multi-scale crop augmentation, 8 GPUs x 4 images, SyncBN on GPU.
# Names carry an ``sdt_`` prefix because mmengine forbids keys shared by two bases; a config
# lists this file after the stock mmdet base and assigns, e.g.,
# optim_wrapper = {{_base_.sdt_optim_wrapper}}.
sdt_ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333),
                 (640, 1333), (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
sdt_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=sdt_ms_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=sdt_ms_scales, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]

sdt_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-4, betas=(0.9, 0.999), eps=1e-8,
                   weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
sdt_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
sdt_auto_scale_lr = dict(enable=False, base_batch_size=32)  # 8 GPUs x 4 images
# mmengine's Runner converts every BN (backbone, neck, heads) to SyncBN for GPU training.
sync_bn = 'torch'
# Checkpoints that torch.load(weights_only=True) accepts (needs 'mmsdt.engine' imported).
custom_hooks = [dict(type='mmsdt.SafeCheckpointHook')]
