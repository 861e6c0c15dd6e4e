# E-SpikeFormer 2.7m (2.70M parameters) on ImageNet-1k from scratch, the same recipe as the 19m.
_base_ = './e-spikeformer-19m_8xb256-200e_in1k.py'

model = dict(backbone=dict(arch='2.7m'), head=dict(in_channels=128))
