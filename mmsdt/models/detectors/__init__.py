"""Stock mmdet detectors with a build-time stride check (``mmsdt.StrideCheckedMaskRCNN``, ...).

The detectors themselves are mmdet's; the subclasses only verify, when they are built, that
every anchor generator and RoI extractor declares the strides the spiking backbone + neck
really produce (the upstream configs declared 32 where the backbone gives 16).
``mmsdt.StreamingRetinaNet`` also carries the stateful backbone neurons' membranes from one
window of an event recording to the next (streaming detection).
"""
from .streaming_detector import StreamingRetinaNet, StreamingStateMixin
from .stride_checked_detectors import (StrideCheckedCascadeRCNN, StrideCheckedMaskRCNN,
                                       StrideCheckedRetinaNet, detector_declared_strides)

__all__ = [
    'StrideCheckedMaskRCNN', 'StrideCheckedCascadeRCNN', 'StrideCheckedRetinaNet',
    'detector_declared_strides', 'StreamingRetinaNet', 'StreamingStateMixin'
]
