# Spiking RetinaNet with the E-SpikeFormer 19m backbone, 12 epochs on COCO 2017 boxes
# (8 GPUs x 4 images).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../../_base_/datasets/coco_detection_sdt_ms.py',
    '../../_base_/schedules/sdt_adamw_1x.py',
    'mmdet::_base_/default_runtime.py', '../../_base_/mmsdt_runtime.py',
    'mmdet::retinanet/retinanet_tta.py'  # tta_model / tta_pipeline, as mmdet's RetinaNet
]

pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
model = dict(
    type='mmsdt.StrideCheckedRetinaNet',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # stock RetinaNet neck (levels 8, 16, 32 from the backbone + 64, 128 from extra convs on
    # its input = the stock anchor strides) with a spike before every conv
    neck=dict(in_channels=[64, 128, 256, 360], conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    bbox_head=dict(type='mmsdt.SpikeRetinaHead'))
