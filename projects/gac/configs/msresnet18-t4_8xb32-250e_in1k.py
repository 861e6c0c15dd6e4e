# MS-ResNet-18, direct coding (baseline), ImageNet-1k, T = 4: the GAC code's recipe (README.md).
_base_ = './_base_/gac-msresnet_in1k.py'

model = dict(backbone=dict(arch='imagenet18', time_steps=4, encoder=dict(gate='none')))
