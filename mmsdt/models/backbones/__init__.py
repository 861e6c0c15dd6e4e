"""Spiking backbones."""
from .e_spikeformer import ESpikeFormer

__all__ = ['ESpikeFormer']
