"""Spiking necks."""
from .spike_fpn import SpikeFPN

__all__ = ['SpikeFPN']
