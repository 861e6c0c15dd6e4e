# Embedded default (segmentation): spiking Semantic FPN with the 2.7m E-SpikeFormer, trained
# from scratch on the generated ADE-style toy set, 1300 iterations of 4 images on CPU (see
# README.md).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/datasets/toy_ade_128x128.py',
    '../_base_/toy_cpu_runtime_seg.py'
]

num_classes = len(_base_.classes)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='mmsdt.StrideCheckedEncoderDecoder',
    pretrained=None,
    data_preprocessor=dict(size=_base_.scale),
    # zero_init_residual: every block starts as the identity (from scratch, see README);
    # levels at strides 4, 8, 16, 16
    backbone=dict(_delete_=True, type='mmsdt.ESpikeFormer', arch='2.7m',
                  out_indices=(1, 2, 3, 4), compact_spikes=False, zero_init_residual=True),
    # mmseg's FPN with a spike before every conv and BN after the convs, as the paper's QFPN
    # (without the BN the head's first neurons hardly fired at initialisation)
    neck=dict(in_channels=[24, 48, 96, 128], out_channels=64, norm_cfg=norm_cfg,
              conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    # Integer head spikes (counts 0..4, as the neck) instead of the paper's 0..1: with 0..1
    # the from-scratch toy model labelled every shape with one class (README).
    # Loss: cross-entropy + mmseg's Lovasz-softmax (a surrogate of the per-class IoU) + Dice,
    # so the small shape classes are not drowned by the background pixels. No dropout.
    decode_head=dict(type='mmsdt.SpikeFPNHead', in_channels=[64, 64, 64, 64],
                     feature_strides=[4, 8, 16, 16], channels=64, dropout_ratio=0.,
                     num_classes=num_classes, norm_cfg=norm_cfg, spike_cfg=dict(norm=1),
                     loss_decode=[
                         dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                         dict(type='LovaszLoss', loss_type='multi_class', classes='present',
                              per_image=False, reduction='none', loss_weight=1.0),
                         dict(type='DiceLoss', loss_weight=1.0)]),
    # Deep supervision, training only (mmseg's stock FCNHead, a 1x1 classifier on the stride-16
    # neck level; EncoderDecoder.predict never runs it, so inference stays spike-driven).
    auxiliary_head=dict(type='FCNHead', in_channels=64, in_index=2, channels=64, num_convs=0,
                        concat_input=False, dropout_ratio=0., num_classes=num_classes,
                        norm_cfg=norm_cfg, align_corners=False,
                        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                         loss_weight=1.0)))

max_iters = 1300
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# One AdamW parameter group per distinct (lr, weight decay) instead of one per parameter: the
# same updates, a cheaper step on CPU (mmsdt.MergedGroupsOptimWrapperConstructor).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.005, fused=True),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', power=1.0, eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
