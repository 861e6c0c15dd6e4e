# ImageNet-1k in the folder layout: data/imagenet/{train,val}/<wnid>/*.JPEG (no annotation file
# needed: mmpretrain's ImageNet scans the class folders; a meta/{train,val}.txt is used if
# present). SDT-V3 augmentation (reference §2.5), which mmpretrain's Swin base already is:
# bicubic RandomResizedCrop 224 + flip, RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25
# (per-pixel random fill); no mixup / cutmix. Test: resize the short side to 232 (bicubic),
# centre crop 224 (crop_pct 224/232). 256 images per GPU (8 x 256 = 2048).
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs64_swin_224.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=232, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=256, num_workers=8, persistent_workers=True)
val_dataloader = dict(batch_size=256, num_workers=8, persistent_workers=True,
                      dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
