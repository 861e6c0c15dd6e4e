# E-SpikeFormer 19m (18.99M parameters) on ImageNet-1k from scratch, the SDT-V3 recipe (reference
# §2.5) on 8 GPUs x 256 images: Lamb 4.8e-3, 200 epochs, label smoothing 0.1, RandAugment,
# random erasing 0.25, bicubic 224 crops; drop path 0.1 (upstream parsed --drop_path and never
# passed it to the model; 0.1 is its parser default), applied here.
_base_ = [
    '../../_base_/datasets/imagenet_bs256_sdt_224.py',
    '../../_base_/schedules/sdt_lamb_200e.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_runtime.py',
]

model = dict(
    type='ImageClassifier',
    # stage 4 at stride 16 (the paper's layout); its real-valued output is averaged by the neck
    backbone=dict(type='mmsdt.ESpikeFormer', arch='19m', out_indices=(4, ), drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    # the released classifier: integer spike (0..4, norm 1) -> Linear
    head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=1000, in_channels=360,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best='auto'))
