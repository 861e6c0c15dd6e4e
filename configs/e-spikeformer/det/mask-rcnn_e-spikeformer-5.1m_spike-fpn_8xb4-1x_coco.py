# Spiking Mask R-CNN, E-SpikeFormer 5.1m (neck 128 / FC 512 channels), 12 epochs.
_base_ = './mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py'

pretrained = 'checkpoints/e_spikeformer_5.1m_imagenet.pth'
embed_dims, neck_channels, fc_channels = [32, 64, 128, 192], 128, 512
model = dict(
    backbone=dict(arch='5.1m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=embed_dims, out_channels=neck_channels),
    rpn_head=dict(in_channels=neck_channels, feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels, fc_out_channels=fc_channels),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(in_channels=neck_channels, conv_out_channels=neck_channels)))
