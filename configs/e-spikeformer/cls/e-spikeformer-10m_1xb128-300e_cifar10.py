# E-SpikeFormer 10m on CIFAR-10 from scratch, 300 epochs of 128 images on one GPU. The paper
# reports no CIFAR recipe; this one is mmsdt's (see README.md): stride-1 stem for 32x32 input,
# AdamW, cosine, label smoothing, drop path 0.1, random crop + flip.
_base_ = [
    '../../_base_/models/e-spikeformer-10m_cifar.py',
    '../../_base_/datasets/cifar10_bs128_sdt.py',
    '../../_base_/schedules/sdt_adamw_300e_cifar.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_runtime.py',
]

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3,
                                     save_best='auto'))
