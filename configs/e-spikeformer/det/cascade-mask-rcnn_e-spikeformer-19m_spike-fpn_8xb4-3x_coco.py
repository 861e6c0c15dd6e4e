# Spiking Cascade Mask R-CNN with the E-SpikeFormer 19m backbone, 36 epochs on COCO 2017
# (8 GPUs x 4 images); 4conv-1fc spiking bbox heads with SyncBN and GIoU loss in all three
# stages, as the paper's cascade config.
_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    '../../_base_/datasets/coco_instance_sdt_ms.py',
    '../../_base_/schedules/sdt_adamw_3x.py',
    'mmdet::_base_/default_runtime.py', '../../_base_/mmsdt_runtime.py'
]

pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
head_norm = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='mmsdt.StrideCheckedCascadeRCNN',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[64, 128, 256, 360], conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    rpn_head=dict(type='mmsdt.SpikeRPNHead'),
    roi_head=dict(
        bbox_head=[
            dict(
                type='mmsdt.SpikeShared4Conv1FCBBoxHead', in_channels=256,
                conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
                norm_cfg=head_norm,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False, reg_decoded_bbox=True,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=10.0)),
            dict(
                type='mmsdt.SpikeShared4Conv1FCBBoxHead', in_channels=256,
                conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
                norm_cfg=head_norm,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                target_stds=[0.05, 0.05, 0.1, 0.1]),
                reg_class_agnostic=False, reg_decoded_bbox=True,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=10.0)),
            dict(
                type='mmsdt.SpikeShared4Conv1FCBBoxHead', in_channels=256,
                conv_out_channels=256, fc_out_channels=1024, roi_feat_size=7, num_classes=80,
                norm_cfg=head_norm,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                target_stds=[0.033, 0.033, 0.067, 0.067]),
                reg_class_agnostic=False, reg_decoded_bbox=True,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='GIoULoss', loss_weight=10.0)),
        ],
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead')))
