# GAC-MSResNet-18 for CIFAR (the ResNet-19 topology of the GAC code), T = 6, CIFAR LIF preset
# (decay 0.5, V_th 1.0, triangle surrogate). CutMix (beta 1) on half of the batches, drawn per
# batch by mmpretrain's RandomBatchAugment (the official code draws once per epoch: a bug).
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.MSResNet', arch='cifar18', time_steps=6, neuron='cifar',
                  encoder=dict(gate='learned')),
    head=dict(type='mmsdt.TimeAveragedClsHead', num_classes=10, in_channels=512,
              neuron='cifar', loss=dict(type='CrossEntropyLoss', loss_weight=1.0,
                                        use_soft=True)),
    train_cfg=dict(augments=dict(type='CutMix', alpha=1.0), probs=0.5))
