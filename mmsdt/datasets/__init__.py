"""Data sets for mmsdt runs that need no downloads.

:func:`generate_toy_coco` and :func:`generate_toy_ade` (package :mod:`.toy`) write small,
deterministic shape data sets (COCO instance format and ADE20K semantic layout) that serve as
the embedded default for detection and segmentation training, and :func:`generate_toy_cls` a
classification set in the ImageNet folder layout and :func:`generate_toy_dvs` an event-camera
set (motion classes, DVS emulator) in the N-MNIST layout; :class:`CheckSegLabels` is a
pipeline step that names the label file holding an unexpected class id or of another size
than its image, :class:`CheckImageSize` the image whose size differs from its annotation's,
:class:`SegCopyPaste` pastes the objects of another sample onto a label map (inside mmseg's
``MultiImageMixDataset``) and :class:`DropKeys` removes results keys no later step reads.
:class:`CheckedRandomCrop` is mmpretrain's random crop that pads or resizes an image smaller
than the crop instead of silently keeping its size.
:class:`CheckedCocoDataset` (registered only when mmdet is installed; nothing else here
imports mmdet or mmseg) is mmdet's ``CocoDataset`` with the checks of :mod:`.coco_checks`.
:class:`RecordingStreamSampler` yields whole event recordings in time order as parallel
streams, for streaming detectors.
"""
from importlib.util import find_spec

from .crop import CheckedRandomCrop
from .events import EVENT_DTYPE, read_events, write_events
from .samplers import RecordingStreamSampler
from .toy import (TOY_ADE_CLASSES, TOY_CLS_CLASSES, TOY_COCO_CLASSES, TOY_DVS_CLASSES,
                  generate_toy_ade, generate_toy_cls, generate_toy_coco, generate_toy_dvs,
                  generate_toy_event_det)
from .transforms import CheckImageSize, CheckSegLabels, DropKeys, SegCopyPaste

__all__ = [
    'CheckedRandomCrop', 'CheckImageSize', 'CheckSegLabels', 'DropKeys', 'SegCopyPaste',
    'generate_toy_coco', 'generate_toy_ade', 'generate_toy_cls', 'TOY_COCO_CLASSES',
    'TOY_ADE_CLASSES', 'TOY_CLS_CLASSES', 'EVENT_DTYPE', 'read_events', 'write_events',
    'generate_toy_dvs', 'generate_toy_event_det', 'TOY_DVS_CLASSES', 'RecordingStreamSampler'
]

if find_spec('mmdet') is not None:  # a classification-only install has no mmdet
    from .coco import CheckedCocoDataset  # noqa: F401
    __all__ += ['CheckedCocoDataset']
