"""Spiking dense heads (RPN, RetinaNet)."""
from .spike_retina_head import SpikeRetinaHead
from .spike_rpn_head import SpikeRPNHead

__all__ = ['SpikeRPNHead', 'SpikeRetinaHead']
