# The 83M spike-driven Transformer, "1x4" (D = 4: integer spikes 0..4, half-up rounding), fine-
# tuned on ImageNet-1k at 224 with the large models' recipe (reference §3.2): Lamb, blr 6e-4 on
# 8 x 128 images (lr 2.4e-3), layer decay 0.75, 10 warm-up + 140 cosine epochs, drop path 0.1,
# label smoothing 0.1, mixup 0.8, cutmix 1.0, RandAugment, random erasing 0.25, EMA 0.99996
# (validated and saved). Evaluates the released file 83M_1x4 after
# tools/model_converters/sdtv3_large_to_mmsdt.py. To start from an SMA pre-training checkpoint
# (spikemae_e-spikeformer-large-83m_8xb256-200e_in1k.py), convert it to the fine-tuning backbone
# (mmsdt.models.selfsup.finetune_loading) and set
# model.backbone.init_cfg = dict(type='Pretrained', checkpoint=PATH, prefix='backbone.').
_base_ = [
    '../../_base_/datasets/imagenet_bs128_sdt_224.py',
    '../../_base_/schedules/sdt_lamb_150e_finetune.py',
    '../../_base_/models/e-spikeformer-large-83m.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_ema_runtime.py',
]

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                                     save_best='auto'))
