# Spike-masked autoencoder (SMA) pre-training of the 171m encoder on ImageNet-1k images without
# labels (reference §3.2; upstream Train_Large.md): mmsdt.SpikeMAE - per sample, half of the
# 16 x 16 patches masked (mask ratio 0.5, as documented upstream), the conv stages with sparse
# conv / sparse BN semantics, the 12 transformer blocks on all tokens, no layer scales (the
# fine-tuning backbone adds them at 1e-6) - with the decoder of §3.2 (Linear to 256, fixed 2-D
# sin-cos positions, 4 ViT blocks with 4 heads, MLP ratio 4, pixel head) and a learned mask token
# at masked positions, per-patch normalised pixel targets, MSE over the masked patches. Recipe:
# AdamW betas (0.9, 0.95), blr 1.5e-4 on 8 x 256 images (lr 1.2e-3), 20 warm-up epochs, 200
# epochs, RandomResizedCrop 0.2-1 (bicubic) + flip, weight decay 0.05.
_base_ = [
    '../../_base_/datasets/imagenet_bs256_sma_224.py',
    '../../_base_/schedules/sdt_adamw_200e_sma.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_runtime.py',
]
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.models.selfsup', 'mmsdt.engine'],
                      allow_failed_imports=False)
custom_hooks = []  # no labels: no class checks
# The encoder is the fine-tuning model's 196-wide '171m' arch (upstream pre-trains a 192-wide
# encoder that its own 196-wide fine-tuning model cannot load, reference §3.3).

model = dict(
    type='mmsdt.SpikeMAE',
    backbone=dict(type='mmsdt.ESpikeFormerLarge', arch='171m', max_value=4, rounding='half_up',
                  layer_scale_init_value=None),
    neck=dict(type='mmsdt.SpikeMAEDecoder', in_channels=768, embed_dims=256, depth=4,
              num_heads=4, mlp_ratio=4, patch_size=16, use_mask_token=True),
    head=dict(type='mmsdt.SpikeMAEPretrainHead', norm_pix=True, patch_size=16,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    mask_ratio=0.5)
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3))
