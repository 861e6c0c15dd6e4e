# CIFAR-100 as the seed stores it (torchvision's download into ./data): data/cifar-100-python.
# mmpretrain's CIFAR100 reads that folder; download=False, so a missing folder is an error, not a
# download. Random crop 32 with 4 px padding + horizontal flip; the usual CIFAR-100 mean / std.
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'

# Both pipelines start with Resize(scale=32) (a copy for CIFAR's 32x32 images), so train and
# test inputs keep one size if the data set is swapped for images of another size.
train_pipeline = [
    dict(type='Resize', scale=32),
    dict(type='mmsdt.CheckedRandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=32),
    dict(type='PackInputs'),
]
train_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True,
                        dataset=dict(data_root='data', download=False, pipeline=train_pipeline))
val_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True,
                      dataset=dict(data_root='data', download=False, pipeline=test_pipeline))
test_dataloader = val_dataloader
