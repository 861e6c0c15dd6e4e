# Spiking Mask R-CNN with the E-SpikeFormer 5.1m backbone, 12 epochs; neck and heads 128
# channels wide, FCs 512.
_base_ = './mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py'

pretrained = 'checkpoints/e_spikeformer_5.1m_imagenet.pth'
neck_channels = 128
model = dict(
    backbone=dict(arch='5.1m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[32, 64, 128, 192], out_channels=neck_channels),
    rpn_head=dict(in_channels=neck_channels, feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=512),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(in_channels=neck_channels, conv_out_channels=neck_channels)))
