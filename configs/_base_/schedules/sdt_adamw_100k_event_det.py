# mmsdt's event-detection schedule (not tuned on real data): 100k iterations, AdamW lr 2e-4 for
# 8 samples per step (RVT's rule lr = 2e-4 * sqrt(batch / 8), its README), weight decay 0.05
# off norms and biases, 1000-iteration linear warm-up, cosine to 1e-6, gradient norm clipped
# at 10; validation every 10k iterations (checkpoint and log intervals: the configs).
max_iters = 100000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=1000, end=max_iters, eta_min=1e-6),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.),
    clip_grad=dict(max_norm=10.0))
auto_scale_lr = dict(enable=False, base_batch_size=8)
