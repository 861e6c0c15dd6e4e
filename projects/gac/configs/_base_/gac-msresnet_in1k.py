# GAC-MS-ResNet for ImageNet (the GAC code's train_amp.py): 7x7 stride-2 stem, no max-pool,
# ImageNet LIF preset (decay 0.25, V_th 0.5, detached reset, rectangular surrogate), BN gamma
# 0.5 and the second BN of each block zeroed; label smoothing 0.1; CutMix (beta 1) on every
# batch. data/imagenet/{train,val}/<class>/*.JPEG; RandomResizedCrop 224 + AutoAugment
# (ImageNet policy), no flip; test resize 256 + centre crop 224. SGD 0.1 / 0.9 / 1e-5, cosine
# over 250 epochs, 8 GPUs x 32 images, AMP, SyncBN.
_base_ = ['./gac_runtime.py']

data_preprocessor = dict(num_classes=1000, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
dataset_type = 'ImageNet'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='AutoAugment', policies='imagenet'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root='data/imagenet', data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root='data/imagenet', data_prefix='val',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.MSResNet', arch='imagenet18', time_steps=4, neuron='imagenet',
                  encoder=dict(gate='learned'), zero_init_residual=True, bn_weight_init=0.5),
    head=dict(type='mmsdt.TimeAveragedClsHead', num_classes=1000, in_channels=512,
              neuron='imagenet', topk=(1, 5),
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    train_cfg=dict(augments=dict(type='CutMix', alpha=1.0)))

optim_wrapper = dict(type='AmpOptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-5))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=250, eta_min=0., by_epoch=True,
                        begin=0, end=250)]
train_cfg = dict(by_epoch=True, max_epochs=250, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
randomness = dict(seed=445)
