"""Stock mmdet detectors whose construction fails when a declared stride is wrong."""
from typing import List

from mmdet.models.detectors import CascadeRCNN, MaskRCNN, RetinaNet
from torch import nn

from mmsdt.registry import MODELS
from ..stride_check import StrideCheckMixin, StrideDeclaration


def _strides_of(prior_generator) -> List[int]:
    return [int(s[0]) if isinstance(s, (tuple, list)) else int(s) for s in prior_generator.strides]


def detector_declared_strides(detector: nn.Module, real: List[int]) -> List[StrideDeclaration]:
    """Every stride list a detector's heads declare, with the strides it must equal.

    Anchor generators (``rpn_head`` / ``bbox_head``) must declare exactly the strides of the
    levels they see; RoI extractors the strides of the first ``len(featmap_strides)`` levels.
    """
    declared = []
    for name in ('rpn_head', 'bbox_head'):
        head = getattr(detector, name, None)
        if head is not None and hasattr(head, 'prior_generator'):
            declared.append((f'{name}.prior_generator.strides', _strides_of(head.prior_generator),
                             real))
    roi_head = getattr(detector, 'roi_head', None)
    for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
        extractors = getattr(roi_head, name, None)
        if extractors is None:
            continue
        if not isinstance(extractors, nn.ModuleList):
            extractors = [extractors]
        for i, ex in enumerate(extractors):
            where = f'roi_head.{name}' + (f'[{i}]' if len(extractors) > 1 else '')
            strides = [int(s) for s in ex.featmap_strides]
            declared.append((f'{where}.featmap_strides', strides, real[:len(strides)]))
    return declared


@MODELS.register_module()
class StrideCheckedMaskRCNN(StrideCheckMixin, MaskRCNN):
    """mmdet's :class:`MaskRCNN` whose construction fails loudly when the RPN anchor strides
    or the RoI extractors' ``featmap_strides`` differ from the strides the backbone and neck
    really produce (measured once, stored as ``feature_strides``).

    Args:
        *args, **kwargs: the arguments of mmdet's MaskRCNN.
    """
    declared_strides = detector_declared_strides


@MODELS.register_module()
class StrideCheckedCascadeRCNN(StrideCheckMixin, CascadeRCNN):
    """mmdet's :class:`CascadeRCNN` (also Cascade Mask R-CNN) with the build-time stride
    check of :class:`StrideCheckedMaskRCNN` (RPN anchors and the RoI extractors of every stage).

    Args:
        *args, **kwargs: the arguments of mmdet's CascadeRCNN.
    """
    declared_strides = detector_declared_strides


@MODELS.register_module()
class StrideCheckedRetinaNet(StrideCheckMixin, RetinaNet):
    """mmdet's :class:`RetinaNet` with a build-time check of the head's anchor strides
    against the strides the backbone and neck really produce.

    Args:
        *args, **kwargs: the arguments of mmdet's RetinaNet.
    """
    declared_strides = detector_declared_strides
