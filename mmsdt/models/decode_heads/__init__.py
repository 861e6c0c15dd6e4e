"""Spiking decode heads for mmsegmentation."""
from .spike_fpn_head import SpikeFPNHead

__all__ = ['SpikeFPNHead']
