# E-SpikeFormer 5.1m (5.11M parameters) on ImageNet-1k from scratch, the same recipe as the 19m.
_base_ = './e-spikeformer-19m_8xb256-200e_in1k.py'

model = dict(backbone=dict(arch='5.1m'), head=dict(in_channels=192))
