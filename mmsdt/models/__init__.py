"""mmsdt models; importing this package registers them in ``mmsdt.registry.MODELS``.

The backbone needs only torch, mmengine and timm; the detection components import mmdet and
the segmentation components mmseg.
"""
from .backbones import ESpikeFormer
from .decode_heads import SpikeFPNHead
from .dense_heads import SpikeRetinaHead, SpikeRPNHead
from .detectors import SpikeCascadeRCNN, SpikeMaskRCNN, SpikeRetinaNet
from .necks import SpikeFPN
from .roi_heads import (SpikeConvFCBBoxHead, SpikeFCNMaskHead, SpikeShared2FCBBoxHead,
                        SpikeShared4Conv1FCBBoxHead)
from .segmentors import SpikeEncoderDecoder

__all__ = [
    'ESpikeFormer', 'SpikeFPN', 'SpikeRPNHead', 'SpikeRetinaHead', 'SpikeConvFCBBoxHead',
    'SpikeShared2FCBBoxHead', 'SpikeShared4Conv1FCBBoxHead', 'SpikeFCNMaskHead',
    'SpikeMaskRCNN', 'SpikeCascadeRCNN', 'SpikeRetinaNet', 'SpikeFPNHead',
    'SpikeEncoderDecoder'
]
