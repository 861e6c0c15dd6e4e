# CIFAR-10 in the seed's layout (data/cifar-10-batches-py, download=False), the GAC code's
# pipeline: random crop 32 (pad 4) + flip; normalised with its mean / std (0.2023 std kept to
# match the official checkpoints). 64 images per step.
_base_ = '../../../../configs/_base_/datasets/cifar10_bs128_sdt.py'

data_preprocessor = dict(num_classes=10, mean=[125.307, 122.961, 113.8575],
                         std=[51.5865, 50.847, 51.255], to_rgb=False)
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
