"""Data sets for mmsdt runs that need no downloads.

:func:`generate_toy_coco` and :func:`generate_toy_ade` (package :mod:`.toy`) write small,
deterministic shape data sets (COCO instance format and ADE20K semantic layout) that serve as
the embedded default for detection and segmentation training, and :func:`generate_toy_cls` a
classification set in the ImageNet folder layout; :class:`CheckSegLabels` is a
pipeline step that names the label file holding an unexpected class id,
:class:`SegCopyPaste` pastes the objects of another sample onto a label map (inside mmseg's
``MultiImageMixDataset``) and :class:`DropKeys` removes results keys no later step reads.
Nothing here imports mmdet or mmseg.
"""
from .toy import (TOY_ADE_CLASSES, TOY_CLS_CLASSES, TOY_COCO_CLASSES, generate_toy_ade,
                  generate_toy_cls, generate_toy_coco)
from .transforms import CheckSegLabels, DropKeys, SegCopyPaste

__all__ = [
    'CheckSegLabels', 'DropKeys', 'SegCopyPaste', 'generate_toy_coco', 'generate_toy_ade',
    'generate_toy_cls', 'TOY_COCO_CLASSES', 'TOY_ADE_CLASSES', 'TOY_CLS_CLASSES'
]
