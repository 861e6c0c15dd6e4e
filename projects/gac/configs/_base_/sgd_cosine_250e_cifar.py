# The GAC code's CIFAR schedule: SGD lr 0.1, momentum 0.9, weight decay 5e-5 (all parameters),
# cosine annealing over 250 epochs to 0 (stepped per epoch, as torch's CosineAnnealingLR there).
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-5))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=250, eta_min=0., by_epoch=True,
                        begin=0, end=250)]
train_cfg = dict(by_epoch=True, max_epochs=250, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
