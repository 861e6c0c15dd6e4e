# The 83M model, "1x8" at 384 px (24 x 24 tokens): e-spikeformer-large-83m-d8_8xb128-150e_in1k.py
# with the 384 px pipelines (test: short side 384, centre crop 384). Upstream links no file for
# 83M_1x8_384 (an empty link in Train_Large.md); the config completes the size x resolution grid.
_base_ = [
    '../../_base_/datasets/imagenet_bs128_sdt_384.py',
    '../../_base_/schedules/sdt_lamb_150e_finetune.py',
    '../../_base_/models/e-spikeformer-large-83m.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_ema_runtime.py',
]

model = dict(backbone=dict(max_value=8), head=dict(max_value=8))
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best='auto'))
