# Spiking Semantic FPN with the E-SpikeFormer 10m backbone, ADE20K 512x512 crops, 160k
# iterations of 16 images (4 GPUs x 4).
_base_ = './fpn_e-spikeformer-19m_spike-fpn_4xb4-160k_ade20k-512x512.py'

pretrained = 'checkpoints/e_spikeformer_10m_imagenet.pth'
model = dict(
    backbone=dict(arch='10m', init_cfg=dict(checkpoint=pretrained)),
    neck=dict(in_channels=[24, 48, 96, 240]))  # C0/2, C0, C1, C3 of the 10m arch
