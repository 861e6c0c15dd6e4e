# The 83M spike-driven Transformer classifier (reference §3.1, upstream `spikformer12_512`,
# 83,015,952 parameters with head_kd): mmsdt.ESpikeFormerLarge '83m' (embed_dims 128 / 256 /
# 512, RepConv2, layer scales 1e-6) -> stock token mean -> mmsdt.SpikeDistillClsHead (`head` on
# the real-valued mean + `head_kd` on its spike, averaged for prediction). D (max spike count)
# is set in both the backbone and the head (`max_value`; 4 = "1x4", 8 = "1x8"); rounding is
# half-up, the large models'. Fine-tuning recipe pieces: drop path 0.1, label smoothing 0.1
# (mixed in with the labels, as timm's Mixup does), mixup 0.8 / cutmix 1.0 (one of the two per
# batch, each with probability 0.5: timm's switch_prob 0.5, mixup_prob 1.0).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.ESpikeFormerLarge', arch='83m', max_value=4, rounding='half_up',
                  drop_path_rate=0.1, layer_scale_init_value=1e-6),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeDistillClsHead', num_classes=1000, in_channels=512, max_value=4,
              rounding='half_up', alpha=0.5,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5)),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
