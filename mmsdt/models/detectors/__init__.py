"""Stock mmdet detectors with a build-time stride check (``mmsdt.SpikeMaskRCNN``, ...).

The detectors themselves are mmdet's; the subclasses only verify, when they are built, that
every anchor generator and RoI extractor declares the strides the spiking backbone + neck
really produce (the upstream configs declared 32 where the backbone gives 16).
"""
from mmdet.models.detectors import CascadeRCNN, MaskRCNN, RetinaNet

from mmsdt.registry import MODELS
from .stride_check import (check_detector_strides, declared_strides, measured_strides,
                           stride_checked)

SpikeMaskRCNN = MODELS.register_module(module=stride_checked(MaskRCNN))
SpikeCascadeRCNN = MODELS.register_module(module=stride_checked(CascadeRCNN))
SpikeRetinaNet = MODELS.register_module(module=stride_checked(RetinaNet))

__all__ = [
    'SpikeMaskRCNN', 'SpikeCascadeRCNN', 'SpikeRetinaNet', 'check_detector_strides',
    'declared_strides', 'measured_strides'
]
