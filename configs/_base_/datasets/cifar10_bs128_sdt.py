# CIFAR-10 as the seed stores it (torchvision's download into ./data): data/cifar-10-batches-py.
# mmpretrain's CIFAR10 reads that folder; download=False, so a missing folder is an error, not a
# download. Random crop 32 with 4 px padding + horizontal flip; the usual CIFAR mean / std (from
# mmpretrain's base).
_base_ = 'mmpretrain::_base_/datasets/cifar10_bs16.py'

train_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True,
                        dataset=dict(data_root='data', download=False))
val_dataloader = dict(batch_size=128, num_workers=4, persistent_workers=True,
                      dataset=dict(data_root='data', download=False))
test_dataloader = val_dataloader
