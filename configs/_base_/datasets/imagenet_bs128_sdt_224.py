# ImageNet-1k for the large models' fine-tuning at 224 (reference §3.2 fine-tune recipe): the
# SDT-V3 augmentation of imagenet_bs256_sdt_224.py (bicubic RandomResizedCrop 224 + flip,
# RandAugment rand-m9-mstd0.5-inc1, random erasing 0.25; test: short side 232, centre crop 224,
# upstream's crop_pct 224 / 232) with 128 images per GPU (8 x 128 = 1024). Mixup / cutmix are
# batch augments of the model (models/e-spikeformer-large-83m.py).
_base_ = './imagenet_bs256_sdt_224.py'

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = val_dataloader
