# Embedded default (event camera): the 2.7m E-SpikeFormer classifier with 2 input channels
# (ON / OFF counts) and T = 4 frames, trained from scratch on the generated toy event set
# (8 motion classes, 150 recordings each, 64x64 sensor, 56x56 crops) for 600 iterations of 16
# recordings on CPU (see README.md). The frames are folded into the batch; every neuron is the
# stateless one (each frame on its own, the paper's DVS model), and the backbone averages its
# output over T after the last neuron. The stateful variant is
# e-spikeformer-2.7m-t4-stateful_1xb16-600i_toy-dvs-64px.py.
_base_ = [
    '../_base_/datasets/toy_dvs_t4_64.py',
    '../_base_/toy_cpu_runtime_cls.py',
]

model = dict(
    type='ImageClassifier',
    data_preprocessor={{_base_.data_preprocessor}},
    # zero_init_residual: every block starts as the identity (from scratch)
    backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', in_channels=2, out_indices=(4, ),
                  compact_spikes=False, zero_init_residual=True, neuron_mode='stateless'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=8, in_channels=128,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))

max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# AdamW lr 4e-3 (one parameter group per distinct lr / weight decay), no decay on 1-dim
# parameters, 50-iteration warm-up, cosine to 1e-5 (the toy classification recipe).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmsdt.MergedGroupsOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=4e-3, betas=(0.9, 0.999), weight_decay=0.05, fused=True),
    paramwise_cfg=dict(flat_decay_mult=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters - 50, eta_min=1e-5, by_epoch=False,
         begin=50, end=max_iters),
]
