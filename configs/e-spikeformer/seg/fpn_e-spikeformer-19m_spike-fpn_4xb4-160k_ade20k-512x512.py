# Spiking Semantic FPN, E-SpikeFormer 19m, ADE20K 512x512, 160k iterations, batch 16
# (4 GPUs x 4), AdamW lr 1e-3 / wd 0.005, decode head lr x2, 1500-iter warm-up then poly.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'], allow_failed_imports=False)
custom_hooks = [dict(type='mmsdt.SafeCheckpointHook')]

pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
arch = '19m'
# The paper's pyramid: stride 2, 4, 8 and stage 4 (stride 16); channels C0/2, C0, C1, C3.
out_indices, level_channels, feature_strides = (0, 1, 2, 4), [32, 64, 128, 360], [2, 4, 8, 16]

model = dict(
    type='mmsdt.SpikeEncoderDecoder',
    pretrained=None,
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch=arch, out_indices=out_indices,
        drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # BN after the neck convs, as the paper's QFPN (conv + BN); becomes SyncBN on GPUs.
    neck=dict(_delete_=True, type='mmsdt.SpikeFPN', in_channels=level_channels,
              out_channels=128, num_outs=4, norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(type='mmsdt.SpikeFPNHead', in_channels=[128, 128, 128, 128],
                     feature_strides=feature_strides, channels=128, num_classes=150))

optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.005),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=2.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=160000),
]
train_dataloader = dict(batch_size=4)  # x 4 GPUs = 16
# mmengine's Runner converts every BN to SyncBN for GPU training.
sync_bn = 'torch'
