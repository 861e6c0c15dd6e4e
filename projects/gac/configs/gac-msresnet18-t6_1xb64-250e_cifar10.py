# GAC-MSResNet-18 on CIFAR-10, T = 6: the GAC code's recipe (README.md).
_base_ = [
    './_base_/gac-msresnet18_cifar.py',
    './_base_/cifar10_bs64_gac.py',
    './_base_/sgd_cosine_250e_cifar.py',
    './_base_/gac_runtime.py',
]

model = dict(backbone=dict(time_steps=6), head=dict(num_classes=10))
randomness = dict(seed=1000)  # the GAC code's seed
