# Embedded default for event-camera detection (make run TASK=event-det): spiking RetinaNet with
# the 2.7m E-SpikeFormer on T = 2 event frames (ON / OFF channels), trained from scratch on
# the generated toy recordings (Gen1 layout, 128x96 sensor) and scored with the Prophesee
# protocol (mmsdt.PropheseeDetMetric). See configs/toy/README.md for the measured runs.
_base_ = [
    '../_base_/datasets/toy_event_det_128x96.py',
    '../_base_/toy_cpu_runtime_det.py'
]
custom_imports = dict(
    imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets', 'mmsdt.evaluation'])

num_classes = len(_base_.classes)
neck_channels = 64
model = dict(
    type='mmsdt.StrideCheckedRetinaNet',
    data_preprocessor=dict(type='mmsdt.EventDetDataPreprocessor',
                           num_frames=_base_.num_frames, pad_size_divisor=32),
    # 2 input channels (ON / OFF); frames (B, T, 2, H, W) are folded T-major through every
    # conv and averaged over T after the last neuron. Stage outputs at strides 8 and 16
    # (the toy objects are 12-44 px); stateless neurons (each window on its own).
    backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', in_channels=2, out_indices=(2, 4),
                  zero_init_residual=True, compact_spikes=False),
    # mmdet's FPN with a spike before every conv, BN on its outputs
    neck=dict(type='FPN', in_channels=[48, 128], out_channels=neck_channels, num_outs=2,
              norm_cfg=dict(type='BN'), conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    bbox_head=dict(
        type='mmsdt.SpikeRetinaHead', num_classes=num_classes, in_channels=neck_channels,
        stacked_convs=2, feat_channels=neck_channels,
        # anchors of 16-25 px at stride 8 and 32-50 px at stride 16; ratios h / w for cars
        # (wide) and pedestrians (tall)
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2,
                              scales_per_octave=3, ratios=[0.5, 1.0, 2.5], strides=[8, 16]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                      ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=20))

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=1e-5),
]
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(checkpoint=dict(interval=max_iters))
