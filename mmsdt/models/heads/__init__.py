"""Spiking classification heads for mmpretrain."""
from .spike_distill_cls_head import SpikeDistillClsHead
from .spike_linear_cls_head import SpikeLinearClsHead

__all__ = ['SpikeLinearClsHead', 'SpikeDistillClsHead']
