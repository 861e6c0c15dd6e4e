# Spiking Mask R-CNN with the E-SpikeFormer 10m backbone, 12 epochs; neck and heads 192
# channels wide, FCs 768 (as the upstream 10m config).
_base_ = './mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py'

pretrained = 'checkpoints/e_spikeformer_10m_imagenet.pth'
neck_channels = 192
model = dict(
    backbone=dict(arch='10m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[48, 96, 192, 240], out_channels=neck_channels),
    rpn_head=dict(in_channels=neck_channels, feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=768),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(in_channels=neck_channels, conv_out_channels=neck_channels)))
