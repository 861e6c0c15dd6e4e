# mmsdt's event-classification schedule (the paper's code has none except HARDVS's, reference
# dvs.md section 4): AdamW (0.9, 0.999) lr 1e-3 for 64 samples per step, weight decay 0.05 on
# >= 2-dim parameters only (none on BN, biases, layer scale), gradient norm clipped at 1, 10
# linear warm-up epochs from lr / 1000 + cosine to 1e-5 over 200 epochs (both per iteration),
# evaluation every 5 epochs. A config changes lr, weight decay and auto_scale_lr by key; a
# different length replaces param_scheduler and train_cfg.
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(flat_decay_mult=0.0),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=190, eta_min=1e-5, by_epoch=True, begin=10, end=200,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
