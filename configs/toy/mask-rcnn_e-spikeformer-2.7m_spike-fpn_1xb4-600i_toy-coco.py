# Embedded default: spiking Mask R-CNN with the 2.7m E-SpikeFormer, trained from scratch on the
# generated toy shapes (tools/misc/make_toy_data.py coco --out data/toy_coco). CPU, 2 cores.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'],
                      allow_failed_imports=False)
# EMAHook (mmengine): evaluation and the saved checkpoint use an exponential moving average of
# the weights (and BN statistics) over the last ~100 steps; every 2nd step keeps its cost low.
custom_hooks = [dict(type='mmsdt.SafeCheckpointHook'),
                dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=0.04,
                     interval=2, update_buffers=True, priority=49)]

data_root = 'data/toy_coco/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 110, 255), (0, 170, 60)])
embed_dims, neck_channels, fc_channels = [24, 48, 96, 128], 64, 256
img_scale = (192, 192)  # toy images are 256-320 px; 192 halves the step time of 256

model = dict(
    type='mmsdt.SpikeMaskRCNN',
    # zero_init_residual: every block starts as the identity (from scratch; as the seg config)
    backbone=dict(_delete_=True, type='mmsdt.ESpikeFormer', arch='2.7m',
                  out_indices=(1, 2, 3, 4), stage4_stride=2, zero_init_residual=True,
                  compact_spikes=False),  # small inputs: speed over memory
    # BN on the neck outputs keeps the heads' membrane potentials O(1) from the first step
    neck=dict(_delete_=True, type='mmsdt.SpikeFPN', in_channels=embed_dims,
              out_channels=neck_channels, num_outs=5, norm_cfg=dict(type='BN')),
    rpn_head=dict(type='mmsdt.SpikeRPNHead', in_channels=neck_channels,
                  feat_channels=neck_channels),
    # The errors of this model are class confusions, not boxes: at score >= 0.3 nearly every val
    # shape is found with its class, plus a second box of another class (README). Hence:
    # one class-agnostic box and mask per RoI (no per-class regressors to learn from few
    # samples), 128 RoIs per image with half of them positive for the RoI classifier, and a
    # mask branch that trains on at most 16 of the positives (mmsdt.CappedMaskRoIHead; with 64
    # RoIs per image it took a step from 0.93 to 0.77 s), as the mask branch costs more than the
    # classifier. lr 2e-3 below is the best of 1.5e-3 / 2e-3 / 3e-3 on this recipe.
    roi_head=dict(
        type='mmsdt.CappedMaskRoIHead', mask_max_pos_per_img=16,
        # torchvision's RoIAlign: the same values as mmcv's; on CPU its forward is cheaper (512
        # RoIs of 7x7 from 64 channels: 19 vs 52 ms; the backwards cost about the same)
        bbox_roi_extractor=dict(out_channels=neck_channels,
                                roi_layer=dict(use_torchvision=True)),
        # RoI classification loss x2: the from-scratch model finds the shapes early but
        # confuses their classes (README).
        bbox_head=dict(type='mmsdt.SpikeShared2FCBBoxHead', in_channels=neck_channels,
                       fc_out_channels=fc_channels, num_classes=len(classes),
                       reg_class_agnostic=True,
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                     loss_weight=2.0)),
        mask_roi_extractor=dict(out_channels=neck_channels,
                                roi_layer=dict(use_torchvision=True)),
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead', num_convs=2, in_channels=neck_channels,
                       conv_out_channels=neck_channels, num_classes=len(classes),
                       class_agnostic=True)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128, pos_fraction=0.5))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=30)))

# Simple Copy-Paste (mmdet's stock CopyPaste in MultiImageMixDataset): every training image
# gets all shapes of a second one pasted at their own position; the masks and boxes of what they
# hide are updated, shapes left with <= 40 px and a moved box are dropped. ~5.7 instead of ~3
# shapes per image at no model cost. CopyPaste needs equal sizes, hence the padding to
# img_scale (with the mean colour, i.e. 0 after normalisation, as the batch padding).
load_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(103.53, 116.28, 123.675))),
]
train_pipeline = [
    dict(type='CopyPaste', selected=False, bbox_occluded_thr=10, mask_occluded_thr=40),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='MultiImageMixDataset', pipeline=train_pipeline,
                 dataset=dict(type='CocoDataset', data_root=data_root, metainfo=metainfo,
                              ann_file='annotations/instances_train.json',
                              data_prefix=dict(img='train/'),
                              filter_cfg=dict(filter_empty_gt=True, min_size=32),
                              pipeline=load_pipeline)))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator

max_iters = 600
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
# One AdamW parameter group per distinct option set: the same updates, a cheaper step on CPU
# (see mmsdt.MergedGroupsOptimWrapperConstructor).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.05, foreach=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
auto_scale_lr = dict(enable=False, base_batch_size=4)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
