# Spiking Mask R-CNN with the E-SpikeFormer 19m backbone, 12 epochs on COCO 2017
# (8 GPUs x 4 images).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../../_base_/datasets/coco_instance_sdt_ms.py',
    '../../_base_/schedules/sdt_adamw_1x.py',
    'mmdet::_base_/default_runtime.py', '../../_base_/mmsdt_runtime.py'
]

# The released ImageNet file (or its converted copy) of the backbone; loaded strictly.
pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'

# stage4_stride=2 gives the stock pyramid (strides 4, 8, 16, 32, + 64 from the neck), so the
# stock anchor strides and RoI featmap_strides are right and the released weights keep their
# shapes; StrideCheckedMaskRCNN checks all strides when it is built.
model = dict(
    type='mmsdt.StrideCheckedMaskRCNN',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # mmdet's FPN with a spike (integer count 0..4) before every conv
    neck=dict(in_channels=[64, 128, 256, 360], conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    rpn_head=dict(type='mmsdt.SpikeRPNHead'),
    roi_head=dict(
        bbox_head=dict(type='mmsdt.SpikeShared2FCBBoxHead'),
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead')))
