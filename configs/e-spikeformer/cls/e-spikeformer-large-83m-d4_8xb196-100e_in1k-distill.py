# Hard distillation of the fine-tuned 83M "1x4" model (reference §3.2; upstream Train_Large.md
# "Distillation": 8 x 196 images, blr 1e-3, 5 warm-up epochs, 100 epochs, drop path 0.1, mixup
# 0.5, cutmix 1.0, random erasing 0.25, no layer decay (its default 1.0), alpha 0.5, starting
# from the fine-tuned checkpoint). mmsdt.DistillImageClassifier: the frozen teacher classifies
# the same augmented batch and head_kd learns the argmax of its logits:
# loss = 0.5 CE(head, labels) + 0.5 CE(head_kd, teacher labels).
# Teacher: upstream uses CAFormer-b36 (in21k pre-trained, in1k fine-tuned), which mmpretrain
# 1.2.0 does not ship (mmpretrain.list_models('*caformer*') is empty). This config uses
# mmpretrain's ConvNeXt-L in21k-pre in1k (86.61 % top-1 at 224 in mmpretrain's metafile); any
# mmpretrain classifier config plus its checkpoint works. Download the weights once:
# https://download.openmmlab.com/mmclassification/v0/convnext/convnext-large_in21k-pre-3rdparty_64xb64_in1k_20220124-2412403d.pth
# to checkpoints/ (no download at run time; the file is loaded strictly and safely).
_base_ = './e-spikeformer-large-83m-d4_8xb128-150e_in1k.py'

model = dict(
    type='mmsdt.DistillImageClassifier',
    teacher=dict(
        config='mmpretrain::convnext/convnext-large_64xb64_in1k.py',
        checkpoint='checkpoints/convnext-large_in21k-pre-3rdparty_64xb64_in1k_20220124-2412403d.pth'),
    head=dict(alpha=0.5),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.5), dict(type='CutMix', alpha=1.0)]))
# the fine-tuned student (e-spikeformer-large-83m-d4_8xb128-150e_in1k.py's checkpoint)
load_from = 'work_dirs/e-spikeformer-large-83m-d4_8xb128-150e_in1k/epoch_150.pth'

train_dataloader = dict(batch_size=196)
# lr = blr x batch / 256 = 1e-3 x 1568 / 256 = 6.125e-3; no layer decay
optim_wrapper = dict(optimizer=dict(lr=6.125e-3),
                     paramwise_cfg=dict(layer_decay_rate=1.0, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min_ratio=1e-6 / 6.125e-3, by_epoch=True,
         begin=5, end=100, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=1568)
