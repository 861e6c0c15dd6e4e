# The large models' fine-tuning recipe (reference §3.2, upstream Train_Large.md and
# main_finetune.py) for 1024 images per step: Lamb with trust-ratio clipping (mmpretrain's
# Lamb), lr = blr x batch / 256 = 6e-4 x 1024 / 256 = 2.4e-3, weight decay 0.05 on parameters of
# >= 2 dims only (upstream's param_groups_lrd: none on 1-D parameters, layer scales included),
# layer-wise lr decay 0.75 (mmpretrain's LearningRateDecayOptimWrapperConstructor through
# ESpikeFormerLarge.get_layer_depth: conv stages 0.75^13, block i 0.75^(12 - i), head 1),
# 10 warm-up epochs, then half-cosine to 1e-6 x the group's lr scale (upstream scales its min_lr
# per group too), both per iteration; 150 epochs; mixed precision (AmpOptimWrapper, GPUs).
# `--auto-scale-lr` rescales the lr for another total batch size.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='Lamb', lr=2.4e-3, weight_decay=0.05, trust_clip=True),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.75, flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=140, eta_min_ratio=1e-6 / 2.4e-3, by_epoch=True,
         begin=10, end=150, convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=150, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)
