# GAC-MS-ResNet-34 on ImageNet-1k, T = 4: the GAC code's recipe (README.md).
_base_ = './_base_/gac-msresnet_in1k.py'

model = dict(backbone=dict(arch='imagenet34', time_steps=4))
