"""Data-pipeline steps: image-size and label checks, copy-paste for label maps, dropping spent
keys."""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS


def _hw(shape) -> str:
    return f'{shape[0]}x{shape[1]}'


@TRANSFORMS.register_module()
class CheckImageSize(BaseTransform):
    """Fail with the file's name when a decoded image's size differs from its annotation's.

    Put it right after ``LoadImageFromFile``. COCO-style data sets (mmdet's ``CocoDataset``)
    put the annotation file's ``height`` and ``width`` of each image into its data info; the
    boxes and polygons are in that frame, while masks are drawn at the decoded image's size.
    Stock mmdet does not compare the two, so an image file replaced by a 1×1 placeholder (or
    any other size) trains on misplaced targets without a word. Without ``height`` /
    ``width`` (inference: the Inferencers replace the loader) it passes the data through.
    Cost: one comparison per image.
    """

    def transform(self, results: dict) -> dict:
        height, width = results.get('height'), results.get('width')
        if height is None or width is None or results.get('img') is None:
            return results
        shape = tuple(results.get('ori_shape') or results['img'].shape[:2])
        if shape != (height, width):
            hint = ' (swapped: an EXIF orientation tag may rotate the decoded image)' \
                if shape == (width, height) else ''
            raise ValueError(f'{results.get("img_path", "<image>")}: the image is {_hw(shape)} '
                             f'(HxW) but the annotation file says {height}x{width}{hint}; '
                             f'its boxes and masks would not fit it')
        return results


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """Fail with the file's name when a label map holds a class id the model cannot have, or
    differs in size from its image.

    Put it right after ``LoadAnnotations``. Allowed values are ``0 .. num_classes - 1`` and
    ``ignore_index`` (after ``reduce_zero_label``, if the loader applied it). The label map
    must have the size of the image as decoded (``ori_shape``), which is what both training
    (the label is resized and cropped with the image) and mmseg's ``IoUMetric`` (it compares
    the label with the prediction at ``ori_shape``) need; this holds for test pipelines that
    resize the image before ``LoadAnnotations``, as mmseg's do. Without a label map
    (inference: the Inferencers drop ``LoadAnnotations``) it passes the data through.
    Without this check an out-of-range id makes the loss fail far away from the data, or is
    silently counted as a class by the metric, and a label map of another size fails as an
    ``IndexError`` in ``mmsdt.SegCopyPaste`` or ``IoUMetric``.

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
        self._check_size(seg, results)
        values = np.unique(seg)
        bad = [int(v) for v in values if v != self.ignore_index and not 0 <= v < self.num_classes]
        if bad:
            shift = ' (after reduce_zero_label: raw id = value + 1)' \
                if results.get('reduce_zero_label') else ''
            raise ValueError(f'{results.get("seg_map_path", "<label map>")}: class id(s) {bad}'
                             f'{shift} outside 0..{self.num_classes - 1} and ignore index '
                             f'{self.ignore_index}')
        return results

    @staticmethod
    def _check_size(seg: np.ndarray, results: dict) -> None:
        img = results.get('img')
        image_shape = results.get('ori_shape') or (None if img is None else img.shape[:2])
        if image_shape is None or tuple(seg.shape[:2]) == tuple(image_shape[:2]):
            return
        hint = ''
        if img is not None and tuple(seg.shape[:2]) == tuple(img.shape[:2]):
            hint = ('; it has the size of the transformed image: put mmsdt.CheckSegLabels right '
                    'after LoadAnnotations, before any resize or crop')
        raise ValueError(f'{results.get("seg_map_path", "<label map>")}: the label map is '
                         f'{_hw(seg.shape)} (HxW) but its image '
                         f'{results.get("img_path", "<image>")} is {_hw(image_shape)}{hint}')

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
    used. ``prob`` is the chance of pasting at all. A sample whose image and label map differ
    in size is an error naming both files (``mmsdt.CheckSegLabels`` catches it when loading).

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
        src = mix[0]
        for sample in (results, src):
            if sample['img'].shape[:2] != sample['gt_seg_map'].shape[:2]:
                raise ValueError(
                    f'SegCopyPaste: {sample.get("seg_map_path", "<label map>")} is '
                    f'{_hw(sample["gt_seg_map"].shape)} (HxW) but its image '
                    f'{sample.get("img_path", "<image>")} is {_hw(sample["img"].shape)}; put '
                    f'mmsdt.CheckSegLabels right after LoadAnnotations to catch it when loading')
        if np.random.rand() >= self.prob:
            return results
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
