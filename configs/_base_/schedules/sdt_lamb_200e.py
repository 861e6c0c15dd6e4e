# The SDT-V3 ImageNet recipe (reference §2.5) for 2048 images per step: Lamb with trust-ratio
# clipping (mmpretrain's Lamb, timm's algorithm: global grad-norm clip 1.0, eps 1e-6), lr
# 6e-4 x 2048 / 256 = 4.8e-3, weight decay 0.05 on parameters of >= 2 dims only (BN weights and
# biases: none), 5 warm-up epochs, then half-cosine to 1e-6, both per iteration; 200 epochs;
# mixed precision as the paper (AmpOptimWrapper, GPUs). `--auto-scale-lr` rescales for another
# total batch size.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='Lamb', lr=4.8e-3, weight_decay=0.05, trust_clip=True),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=1e-6, by_epoch=True, begin=5, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=2048)
