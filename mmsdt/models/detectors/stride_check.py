"""Build-time check that anchor / RoI / head strides equal the strides the model produces."""
from typing import Dict, List

from torch import nn

from ..utils import measured_strides


def _strides_of(prior_generator) -> List[int]:
    return [int(s[0]) if isinstance(s, (tuple, list)) else int(s) for s in prior_generator.strides]


def declared_strides(detector: nn.Module) -> Dict[str, List[int]]:
    """Every stride list a detector's heads declare, keyed by where it is declared."""
    declared = {}
    for name in ('rpn_head', 'bbox_head'):
        head = getattr(detector, name, None)
        if head is not None and hasattr(head, 'prior_generator'):
            declared[f'{name}.prior_generator.strides'] = _strides_of(head.prior_generator)
    roi_head = getattr(detector, 'roi_head', None)
    if roi_head is not None:
        for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
            extractors = getattr(roi_head, name, None)
            if extractors is None:
                continue
            if not isinstance(extractors, nn.ModuleList):
                extractors = [extractors]
            for i, ex in enumerate(extractors):
                key = f'roi_head.{name}' + (f'[{i}]' if len(extractors) > 1 else '')
                declared[f'{key}.featmap_strides'] = [int(s) for s in ex.featmap_strides]
    return declared


def check_detector_strides(detector: nn.Module) -> List[int]:
    """Raise ``ValueError`` if any declared stride list disagrees with the real strides.

    Anchor generators must declare exactly the strides of the levels they see; RoI
    extractors must declare the strides of the first ``len(featmap_strides)`` levels.
    Returns the measured strides.
    """
    real = measured_strides(detector.backbone, getattr(detector, 'neck', None))
    problems = []
    for where, strides in declared_strides(detector).items():
        expected = real if 'prior_generator' in where else real[:len(strides)]
        if list(strides) != list(expected):
            problems.append(f'{where} = {strides}, but the backbone + neck produce {expected}')
    if problems:
        raise ValueError('stride mismatch: ' + '; '.join(problems) +
                         f' (all levels: {real}). Fix the config\'s anchor_generator strides / '
                         'featmap_strides, or the backbone (ESpikeFormer stage4_stride).')
    return real


def stride_checked(detector_cls: type) -> type:
    """A subclass of ``detector_cls`` that runs :func:`check_detector_strides` after build."""

    class StrideChecked(detector_cls):
        __doc__ = (f'{detector_cls.__name__} whose construction fails loudly when anchor / RoI '
                   'strides differ from the strides the backbone and neck really produce.')

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.feature_strides = tuple(check_detector_strides(self))

    StrideChecked.__name__ = StrideChecked.__qualname__ = f'Spike{detector_cls.__name__}'
    return StrideChecked
