"""Spiking backbones."""
from .e_spikeformer import ESpikeFormer
from .e_spikeformer_large import ESpikeFormerLarge

__all__ = ['ESpikeFormer', 'ESpikeFormerLarge']
