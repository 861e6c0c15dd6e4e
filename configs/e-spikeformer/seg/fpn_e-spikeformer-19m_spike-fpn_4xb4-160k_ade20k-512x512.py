# Spiking Semantic FPN with the E-SpikeFormer 19m backbone, ADE20K 512x512 crops, 160k
# iterations of 16 images (4 GPUs x 4).
_base_ = [
    'mmseg::_base_/models/fpn_r50.py', 'mmseg::_base_/datasets/ade20k.py',
    '../../_base_/schedules/sdt_adamw_160k.py',
    'mmseg::_base_/default_runtime.py', '../../_base_/mmsdt_runtime.py'
]

crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'

model = dict(
    type='mmsdt.SpikeEncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    # The paper's pyramid: strides 2, 4, 8 and stage 4 (stride 16); channels C0/2, C0, C1, C3.
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(0, 1, 2, 4),
        drop_path_rate=0.1, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # mmseg's FPN with a spike (integer count 0..4) before every conv and BN after the convs,
    # as the paper's QFPN (conv + BN); the BN becomes SyncBN on several GPUs.
    neck=dict(in_channels=[32, 64, 128, 360], out_channels=128,
              norm_cfg=dict(type='BN', requires_grad=True),
              conv_cfg=dict(type='mmsdt.SpikeConv2d')),
    # spike_cfg norm=4: the head's spikes are counts / 4 (0..1), as the paper's QFPNHead
    decode_head=dict(type='mmsdt.SpikeFPNHead', in_channels=[128, 128, 128, 128],
                     feature_strides=[2, 4, 8, 16], channels=128, num_classes=150,
                     spike_cfg=dict(norm=4)))

train_dataloader = dict(batch_size=4)  # x 4 GPUs = 16 images per step
