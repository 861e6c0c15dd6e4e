# The 171M model, "1x8" at 384 px (24 x 24 tokens; test: short side 384, centre crop 384,
# upstream's crop_pct 1.0), otherwise e-spikeformer-large-171m-d8_8xb128-150e_in1k.py.
# Evaluates the released file 171M_1x8_384 (the paper's 86.2 % model).
_base_ = [
    '../../_base_/datasets/imagenet_bs128_sdt_384.py',
    '../../_base_/schedules/sdt_lamb_150e_finetune.py',
    '../../_base_/models/e-spikeformer-large-171m.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_ema_runtime.py',
]

model = dict(backbone=dict(max_value=8), head=dict(max_value=8))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best='auto'))
