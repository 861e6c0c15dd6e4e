# Spiking Mask R-CNN, E-SpikeFormer 10m (neck 192 / FC 768 channels as upstream), 12 epochs.
_base_ = './mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py'

pretrained = 'checkpoints/e_spikeformer_10m_imagenet.pth'
embed_dims, neck_channels, fc_channels = [48, 96, 192, 240], 192, 768
model = dict(
    backbone=dict(arch='10m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=embed_dims, out_channels=neck_channels),
    rpn_head=dict(in_channels=neck_channels, feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=fc_channels),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(in_channels=neck_channels, conv_out_channels=neck_channels)))
