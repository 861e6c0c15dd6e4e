# MSResNet-18 with direct coding (baseline) on CIFAR-100, T = 4: the GAC code's recipe (README.md).
_base_ = [
    './_base_/gac-msresnet18_cifar.py',
    './_base_/cifar100_bs64_gac.py',
    './_base_/sgd_cosine_250e_cifar.py',
    './_base_/gac_runtime.py',
]

model = dict(backbone=dict(time_steps=4, encoder=dict(gate='none')), head=dict(num_classes=100))
randomness = dict(seed=1000)  # the GAC code's seed
