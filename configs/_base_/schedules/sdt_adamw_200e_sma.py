# The spike-masked autoencoder pre-training recipe (reference §3.2, upstream Train_Large.md and
# main_pretrain.py) for 2048 images per step: AdamW with betas (0.9, 0.95) and eps 1e-4
# (upstream's), lr = blr x batch / 256 = 1.5e-4 x 2048 / 256 = 1.2e-3, weight decay 0.05 on all
# parameters (upstream: one group), 20 warm-up epochs, then half-cosine to 5e-6 (upstream's
# min_lr), both per iteration; 200 epochs; mixed precision (AmpOptimWrapper, GPUs).
# `--auto-scale-lr` rescales the lr for another total batch size.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=1.2e-3, betas=(0.9, 0.95), eps=1e-4, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=180, eta_min=5e-6, by_epoch=True, begin=20, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=2048)
