# The SDT-V3 detection schedule: 12 epochs, AdamW, 1000-iteration linear warm-up, lr x 0.1
# after epochs 8 and 11.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]

# No weight decay on norm layers and biases: mmengine finds norm layers by their type, so the
# backbone's BN layers (named bn1, encode_bn, q_conv.1, ...) are covered too.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))

# lr 2e-4 is for 32 images per step (8 GPUs x 4); `--auto-scale-lr` rescales it to the real
# batch size.
auto_scale_lr = dict(enable=False, base_batch_size=32)
