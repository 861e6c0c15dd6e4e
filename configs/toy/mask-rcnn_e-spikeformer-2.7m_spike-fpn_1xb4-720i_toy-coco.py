# Embedded default (detection): spiking Mask R-CNN with the 2.7m E-SpikeFormer, trained from
# scratch on the generated toy shapes, 720 iterations of 4 images on CPU (see README.md; 600
# iterations: 4.7 min of training, bbox mAP ~0.62; 720: 5.5-6.0 min, median 0.677)
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/toy_coco_instance.py',
    '../_base_/toy_cpu_runtime_det.py'
]
# EMAHook (mmengine): evaluation and the saved checkpoint use an exponential moving average of
# the weights (and BN statistics) over the last ~100 steps; every 2nd step keeps its cost low.
custom_hooks = _base_.custom_hooks + [
    dict(type='EMAHook', ema_type='ExponentialMovingAverage', momentum=0.04, interval=2,
         update_buffers=True, priority=49)]

num_classes = len(_base_.classes)
neck_channels = 64
model = dict(
    type='mmsdt.StrideCheckedMaskRCNN',
    # zero_init_residual: every block starts as the identity (from scratch);
    # compact_spikes=False: small inputs, speed over memory. The backbone trains in float32:
    # autocast_dtype='bfloat16' (or tools/train.py --amp) saves ~9 % of the step on an AMX
    # CPU, with a lower mean bbox mAP over 4 runs (configs/toy/README.md); left opt-in
    backbone=dict(_delete_=True, type='mmsdt.ESpikeFormer', arch='2.7m',
                  out_indices=(1, 2, 3, 4), stage4_stride=2, zero_init_residual=True,
                  compact_spikes=False),
    # mmdet's FPN with a spike before every conv; BN on its outputs keeps the heads' membrane
    # potentials O(1) from the first step
    neck=dict(in_channels=[24, 48, 96, 128], out_channels=neck_channels,
              norm_cfg=dict(type='BN'), conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    rpn_head=dict(type='mmsdt.SpikeRPNHead', in_channels=neck_channels,
                  feat_channels=neck_channels),
    # The errors of this model are class confusions rather than boxes (README). Hence one
    # class-agnostic box and mask per RoI (no per-class regressors to learn from few samples),
    # 128 RoIs per image with half of them positive for the cheap RoI classifier, and a mask
    # branch that trains on at most 16 of the positives (mmsdt.CappedMaskRoIHead), as the mask
    # branch costs more than the classifier.
    roi_head=dict(
        type='mmsdt.CappedMaskRoIHead', mask_max_pos_per_img=16,
        # RoIAlign as a sparse matrix product (mmsdt.ops.SparseRoIAlign): the same values as
        # mmcv's / torchvision's, a ~10x cheaper backward on CPU (their serial backward costs a
        # fifth of the training step)
        bbox_roi_extractor=dict(type='mmsdt.SparseSingleRoIExtractor',
                                out_channels=neck_channels, roi_layer=dict(type='SparseRoIAlign')),
        # RoI classification loss x 2: the from-scratch model finds the shapes early but
        # confuses their classes
        bbox_head=dict(type='mmsdt.SpikeShared2FCBBoxHead', in_channels=neck_channels,
                       fc_out_channels=256, num_classes=num_classes, reg_class_agnostic=True,
                       loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                     loss_weight=2.0)),
        mask_roi_extractor=dict(type='mmsdt.SparseSingleRoIExtractor',
                                out_channels=neck_channels, roi_layer=dict(type='SparseRoIAlign')),
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead', num_convs=2, in_channels=neck_channels,
                       conv_out_channels=neck_channels, num_classes=num_classes,
                       class_agnostic=True)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=128, pos_fraction=0.5))),
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(max_per_img=30)))

max_iters = 720
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# One AdamW parameter group per distinct option set instead of one per parameter: the same
# updates, a cheaper step on CPU (mmsdt.MergedGroupsOptimWrapperConstructor). lr 2e-3 is the
# best of the rates tried on this recipe (README).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
auto_scale_lr = dict(enable=False, base_batch_size=4)
