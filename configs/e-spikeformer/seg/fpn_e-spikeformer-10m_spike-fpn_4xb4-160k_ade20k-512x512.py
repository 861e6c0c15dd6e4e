# Spiking Semantic FPN, E-SpikeFormer 10m, ADE20K 512x512, 160k iterations, batch 16.
_base_ = './fpn_e-spikeformer-19m_spike-fpn_4xb4-160k_ade20k-512x512.py'

pretrained = 'checkpoints/e_spikeformer_10m_imagenet.pth'
model = dict(
    backbone=dict(arch='10m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[24, 48, 96, 240]))
