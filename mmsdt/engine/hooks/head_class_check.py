"""The class counts a model's heads predict, compared with a data set's classes.

A head with fewer classes than the data does not always fail: mmdet puts the extra classes
on the background index and trains on, mmseg fails late with ``Target 3 is out of bounds``,
a classifier with more outputs than classes trains on without complaint. The check runs
before the first step and names the config key to change.
"""
from typing import List, Sequence, Tuple

from torch import nn

from .data_check_error import ClassDataError

# Modules whose ``num_classes`` does not count the data set's classes: the class-agnostic RPN,
# backbones with a built-in classifier (mmpretrain's VGG keeps num_classes=-1), the
# stuff-only semantic heads of mmdet's panoptic / HTC models.
_SKIPPED_PARTS = ('rpn_head', 'backbone', 'semantic_head')


def _config_key(module_name: str) -> str:
    """``roi_head.bbox_head.0`` -> ``model.roi_head.bbox_head[0]``;
    ``data_preprocessor`` (a top-level key in mmpretrain configs) stays as it is."""
    if module_name == 'data_preprocessor':
        return module_name
    key = 'model'
    for part in module_name.split('.'):
        key += f'[{part}]' if part.isdigit() else f'.{part}'
    return key


def head_num_classes(model: nn.Module) -> List[Tuple[str, int]]:
    """``(config key, num_classes)`` of every part of ``model`` that predicts the data set's
    classes: mmdet's ``bbox_head`` (RetinaNet and the like), ``roi_head.bbox_head`` (one per
    stage for Cascade R-CNN) and ``roi_head.mask_head``; mmseg's ``decode_head`` and auxiliary
    heads; mmpretrain's ``head`` and the data preprocessor (whose ``num_classes`` one-hot
    encodes the labels for Mixup / CutMix).

    The model itself (mmseg's ``EncoderDecoder`` copies its decode head's count), the RPN,
    backbones, panoptic / HTC semantic heads and class-agnostic heads (``class_agnostic=True``:
    one mask per RoI, the count unused) are left out, as are unset counts.
    """
    found = []
    for name, module in model.named_modules():
        num_classes = getattr(module, 'num_classes', None)
        if not name or isinstance(num_classes, bool) or not isinstance(num_classes, int) \
                or num_classes <= 0:
            continue
        if any(part in _SKIPPED_PARTS for part in name.split('.')) \
                or getattr(module, 'class_agnostic', False) is True:
            continue
        found.append((f'{_config_key(name)}.num_classes', num_classes))
    return found


def check_head_classes(model: nn.Module, classes: Sequence[str], where: str) -> None:
    """Raise :class:`ClassDataError` if a head of ``model`` predicts another number of
    classes than ``classes`` (the data set's ``metainfo['classes']``).

    Args:
        model: the built model (not a wrapper).
        classes: the class names of the data set.
        where: the data set, as named in the message (e.g. ``train data set CocoDataset
            (data/coco/annotations/train.json)``).

    Raises:
        ClassDataError: naming every config key with the wrong count, its value and the
            number of classes.
    """
    n = len(classes)
    wrong = [(key, value) for key, value in head_num_classes(model) if value != n]
    if not wrong:
        return
    shown = ', '.join(repr(c) for c in list(classes)[:10]) + (', ...' if n > 10 else '')
    keys = ', '.join(f'{key} = {value}' for key, value in wrong)
    hint = ''
    if n == 2 and any(key.startswith('model.decode_head') or 'auxiliary_head' in key
                      for key, _ in wrong):
        hint = (' (mmseg binary segmentation: num_classes=2 with out_channels=1 for a '
                'sigmoid output)')
    raise ClassDataError(
        f'the {where} has {n} classes ({shown}) but {keys}; set '
        f'{" and ".join(key for key, _ in wrong)} to {n}{hint}. A head with another class '
        f'count trains on silently wrong labels (mmdet puts the extra classes on the '
        f'background index).')
