"""Utilities: checkpoint loading and conversion."""
from .checkpoint import (CheckpointError, LoadReport, extract_backbone_state_dict, infer_arch,
                         load_backbone_checkpoint, load_checkpoint_file, save_released_format)

__all__ = [
    'CheckpointError', 'LoadReport', 'extract_backbone_state_dict', 'infer_arch',
    'load_backbone_checkpoint', 'load_checkpoint_file', 'save_released_format'
]
