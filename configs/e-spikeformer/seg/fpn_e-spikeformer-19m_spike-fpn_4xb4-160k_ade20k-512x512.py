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
    type='mmsdt.StrideCheckedEncoderDecoder',
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

# mmseg's ADE20K pipelines with mmsdt.CheckSegLabels right after LoadAnnotations: a class id
# outside 0..149 (and 255) or a label map of another size than its image stops the run naming
# the file (instead of an IndexError in IoUMetric).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='mmsdt.CheckSegLabels', num_classes=150),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='mmsdt.CheckSegLabels', num_classes=150),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4,  # x 4 GPUs = 16 images per step
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
