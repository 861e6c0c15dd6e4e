"""Data-pipeline steps: label checks, copy-paste for label maps, dropping spent keys."""
from typing import Optional, Sequence

import cv2
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


@TRANSFORMS.register_module()
class SegCopyPaste(BaseTransform):
    """Paste the object pixels of a second sample onto this one (copy-paste for label maps).

    The semantic-segmentation counterpart of mmdet's ``CopyPaste``: inside mmseg's
    ``MultiImageMixDataset`` the wrapper calls :meth:`get_indices`, loads that sample with the
    inner data set's pipeline and hands it over as ``results['mix_results'][0]``; the pixels of
    that source whose label is one of ``classes`` are copied, image and label together, onto
    this sample at the same position. With ``ignore_border > 0`` the ``ignore_index`` pixels
    within that many pixels of a pasted object travel with it (the unlabelled ring that ADE-style
    label maps draw around objects). Pasted objects cover what was there, so the label map
    stays consistent. When the two samples differ in size, the overlapping top-left area is
    used. ``prob`` is the chance of pasting at all.

    Required keys: ``img``, ``gt_seg_map``, ``mix_results``. Modified keys: ``img``,
    ``gt_seg_map``.

    Args:
        classes (Sequence[int]): label values (as in ``gt_seg_map``, i.e. after
            ``reduce_zero_label`` when the loader applies it) whose pixels are pasted.
        ignore_index (int): the ignored label.
        ignore_border (int): paste ``ignore_index`` pixels up to this distance (px) from a
            pasted object too; 0 pastes object pixels only.
        prob (float): probability of pasting.
    """

    def __init__(self, classes, ignore_index: int = 255, ignore_border: int = 3,
                 prob: float = 1.0):
        if not len(classes):
            raise ValueError('SegCopyPaste: classes must name at least one label value')
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'SegCopyPaste: prob must be in [0, 1], got {prob}')
        self.classes = tuple(int(c) for c in classes)
        self.ignore_index = ignore_index
        self.ignore_border = int(ignore_border)
        self.prob = prob

    @staticmethod
    def get_indices(dataset) -> int:
        """Index of the source sample (uniform over the wrapped data set)."""
        return int(np.random.randint(0, len(dataset)))

    def transform(self, results: dict) -> dict:
        mix = results.get('mix_results')
        if not mix:
            raise KeyError('SegCopyPaste needs results["mix_results"]: use it inside '
                           "mmseg's MultiImageMixDataset")
        if np.random.rand() >= self.prob:
            return results
        src = mix[0]
        img, seg = results['img'], results['gt_seg_map']
        h = min(img.shape[0], src['img'].shape[0])
        w = min(img.shape[1], src['img'].shape[1])
        src_seg = src['gt_seg_map'][:h, :w]
        mask = np.isin(src_seg, self.classes)
        if self.ignore_border > 0 and mask.any():
            size = 2 * self.ignore_border + 1
            near = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
            mask |= near & (src_seg == self.ignore_index)
        if not mask.any():
            return results
        img, seg = img.copy(), seg.copy()
        img[:h, :w][mask] = src['img'][:h, :w][mask]
        seg[:h, :w][mask] = src_seg[mask]
        results['img'], results['gt_seg_map'] = img, seg
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(classes={self.classes}, '
                f'ignore_index={self.ignore_index}, ignore_border={self.ignore_border}, '
                f'prob={self.prob})')


@TRANSFORMS.register_module()
class DropKeys(BaseTransform):
    """Remove keys that later steps do not read from the results dict.

    Mixing wrappers (mmdet's / mmseg's ``MultiImageMixDataset``) deep-copy the whole results
    dict several times per sample. After ``LoadAnnotations`` the raw ``instances`` (COCO
    polygons: lists of floats, one Python object per coordinate) are no longer read, yet
    copying them cost ~13 % of the toy detection set's loading time (22 -> 19.5 ms per batch
    of 4); dropping them at the end of the loading pipeline leaves every later step's input
    unchanged.

    Args:
        keys (Sequence[str]): keys to remove; a key that is absent is ignored.
    """

    def __init__(self, keys: Sequence[str]):
        if isinstance(keys, str) or not len(keys):
            raise ValueError(f'DropKeys: keys must be a non-empty list of key names, got '
                             f'{keys!r}')
        self.keys = tuple(keys)

    def transform(self, results: dict) -> dict:
        for key in self.keys:
            results.pop(key, None)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(keys={self.keys})'
