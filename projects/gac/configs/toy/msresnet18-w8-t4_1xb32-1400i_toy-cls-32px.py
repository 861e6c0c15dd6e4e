# The ablation of the embedded default: the same network and recipe with direct coding (the
# stem's BN output repeated over T, no GAC gate; the first block's LIF encodes).
_base_ = './gac-msresnet18-w8-t4_1xb32-1400i_toy-cls-32px.py'

model = dict(backbone=dict(encoder=dict(gate='none')))
