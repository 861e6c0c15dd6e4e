"""Data-pipeline checks."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """Fail with the file's name when a label map holds a class id the model cannot have.

    Put it right after ``LoadAnnotations``. Allowed values are ``0 .. num_classes - 1`` and
    ``ignore_index`` (after ``reduce_zero_label``, if the loader applied it). Without a label
    map (inference: the Inferencers drop ``LoadAnnotations``) it passes the data through.
    Without this check an out-of-range id makes the loss fail far away from the data, or is
    silently counted as a class by the metric.

    Args:
        num_classes (int): classes of the decode head.
        ignore_index (int): the ignored label (255 in mmseg).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255):
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> Optional[dict]:
        seg = results.get('gt_seg_map')
        if seg is None:
            return results
        values = np.unique(seg)
        bad = [int(v) for v in values if v != self.ignore_index and not 0 <= v < self.num_classes]
        if bad:
            shift = ' (after reduce_zero_label: raw id = value + 1)' \
                if results.get('reduce_zero_label') else ''
            raise ValueError(f'{results.get("seg_map_path", "<label map>")}: class id(s) {bad}'
                             f'{shift} outside 0..{self.num_classes - 1} and ignore index '
                             f'{self.ignore_index}')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes}, ' \
            f'ignore_index={self.ignore_index})'
