"""Spiking RoI heads: bbox and mask heads that plug into stock mmdet RoI heads, a
StandardRoIHead with a cap on the mask branch's training positives, and a RoI extractor whose
RoIAlign has a fast CPU backward."""
from .capped_mask_roi_head import CappedMaskRoIHead
from .spike_convfc_bbox_head import (SpikeConvFCBBoxHead, SpikeShared2FCBBoxHead,
                                     SpikeShared4Conv1FCBBoxHead)
from .sparse_roi_extractor import SparseSingleRoIExtractor
from .spike_fcn_mask_head import SpikeFCNMaskHead

__all__ = [
    'CappedMaskRoIHead', 'SpikeConvFCBBoxHead', 'SpikeShared2FCBBoxHead',
    'SpikeShared4Conv1FCBBoxHead', 'SpikeFCNMaskHead', 'SparseSingleRoIExtractor'
]
