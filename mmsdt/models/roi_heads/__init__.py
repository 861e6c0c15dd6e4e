"""Spiking RoI heads: bbox and mask heads that plug into stock mmdet RoI heads."""
from .spike_convfc_bbox_head import (SpikeConvFCBBoxHead, SpikeShared2FCBBoxHead,
                                     SpikeShared4Conv1FCBBoxHead)
from .spike_fcn_mask_head import SpikeFCNMaskHead

__all__ = [
    'SpikeConvFCBBoxHead', 'SpikeShared2FCBBoxHead', 'SpikeShared4Conv1FCBBoxHead',
    'SpikeFCNMaskHead'
]
