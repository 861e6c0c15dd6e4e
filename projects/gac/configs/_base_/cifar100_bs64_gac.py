# CIFAR-100 in the seed's layout (data/cifar-100-python, download=False), the GAC code's
# pipeline and mean / std. 64 images per step.
_base_ = '../../../../configs/_base_/datasets/cifar100_bs128_sdt.py'

data_preprocessor = dict(num_classes=100, mean=[129.3105, 124.1085, 112.404],
                         std=[68.2125, 65.4075, 70.4055], to_rgb=False)
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
