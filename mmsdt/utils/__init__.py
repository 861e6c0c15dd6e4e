"""Utilities: safe checkpoint reading and strict whole-model loading, launch helpers.

E-SpikeFormer's own checkpoint knowledge (released key names, layer-scale allowance, arch
inference, conversion) is :mod:`mmsdt.models.backbones.e_spikeformer_converter`.
"""
from .checkpoint import (CheckpointError, allow_trusted_checkpoint_globals, extract_state_dict,
                         first_shape_mismatch, load_checkpoint_file, load_model_checkpoint,
                         load_model_state, register_checkpoint_hint)
from .quiet import hide_known_warnings

__all__ = [
    'CheckpointError', 'allow_trusted_checkpoint_globals', 'extract_state_dict',
    'first_shape_mismatch', 'load_checkpoint_file', 'load_model_checkpoint', 'load_model_state',
    'register_checkpoint_hint', 'hide_known_warnings'
]
