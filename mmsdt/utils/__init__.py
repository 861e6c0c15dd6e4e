"""Utilities: checkpoint loading and conversion, launch helpers."""
from .checkpoint import (CheckpointError, LoadReport, allow_trusted_checkpoint_globals,
                         extract_backbone_state_dict, extract_state_dict, infer_arch,
                         load_backbone_checkpoint, load_checkpoint_file, load_model_checkpoint,
                         load_model_state)

__all__ = [
    'CheckpointError', 'LoadReport', 'allow_trusted_checkpoint_globals',
    'extract_backbone_state_dict', 'extract_state_dict', 'infer_arch',
    'load_backbone_checkpoint', 'load_checkpoint_file', 'load_model_checkpoint',
    'load_model_state'
]
