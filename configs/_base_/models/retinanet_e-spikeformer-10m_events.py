# Spiking RetinaNet for event frames (B, T, 2, H, W): the E-SpikeFormer 10m backbone with 2
# input channels (ON / OFF) and stateless neurons (each window on its own; T folded into the
# batch up to the last neuron, averaged over T after it), stage outputs at strides 8, 16, 32
# (stage4_stride=2), mmdet's FPN with a spike before every conv and BN on its outputs, and
# mmsdt.SpikeRetinaHead with the stock RetinaNet anchors, assigner and losses. From scratch
# (zero_init_residual: every block starts as the identity).
model = dict(
    type='mmsdt.StrideCheckedRetinaNet',
    data_preprocessor=dict(type='mmsdt.EventDetDataPreprocessor', num_frames=4,
                           pad_size_divisor=32),
    backbone=dict(type='mmsdt.ESpikeFormer', arch='10m', in_channels=2, out_indices=(2, 3, 4),
                  stage4_stride=2, drop_path_rate=0.1, zero_init_residual=True),
    neck=dict(type='FPN', in_channels=[96, 192, 240], out_channels=128, num_outs=3,
              norm_cfg=dict(type='BN'), conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    bbox_head=dict(
        type='mmsdt.SpikeRetinaHead', num_classes=2, in_channels=128, stacked_convs=4,
        feat_channels=128,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                              ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0,
                      ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.001,
                  nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
