# The SDT-V3 detection schedule over 36 epochs: lr x 0.1 after epochs 27 and 33.
_base_ = './sdt_adamw_1x.py'

train_cfg = dict(max_epochs=36)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=36, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
