# ImageNet-1k train images without labels for the spike-masked autoencoder pre-training
# (reference §3.2): mmpretrain's MAE pipeline - bicubic RandomResizedCrop 224 with scale 0.2-1
# + horizontal flip - and its SelfSupDataPreprocessor (ImageNet mean / std, RGB); 256 images per
# GPU (8 x 256 = 2048). The folder layout data/imagenet/train/<wnid>/*.JPEG is enough.
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs512_mae.py'

train_dataloader = dict(batch_size=256, dataset=dict(data_root='data/imagenet'))
