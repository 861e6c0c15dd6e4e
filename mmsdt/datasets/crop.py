"""A random crop that never silently returns an image smaller than the crop (mmpretrain).

mmpretrain's ``RandomCrop`` crops ``min(image, crop_size)``: a crop larger than the (padded)
image does nothing, so ``RandomCrop(64, padding=4)`` turns a 32 x 32 image into a 40 x 40 one
and the model trains on another size than the configured one.
:class:`CheckedRandomCrop` is that transform with a defined answer for small images.
"""
import math
from typing import Sequence, Tuple, Union

import mmcv
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmsdt.registry import TRANSFORMS

_REPORTED = set()  # (image size, crop size, action) already logged by this process


def _padding_sides(padding) -> Tuple[int, int, int, int]:
    """``padding`` in mmpretrain's forms (int, (left/right, top/bottom), (left, top, right,
    bottom)) as (left, top, right, bottom)."""
    if padding is None:
        return 0, 0, 0, 0
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    return tuple(padding)


@TRANSFORMS.register_module()
class CheckedRandomCrop(BaseTransform):
    """mmpretrain's ``RandomCrop`` for images that are smaller than the crop after padding.

    Images at least as large as the crop (after ``padding``) are cropped by mmpretrain's
    ``RandomCrop`` itself (same random draws, same output). For a smaller image,
    ``if_smaller`` says what happens first, and a warning (once per process and image size)
    names the image size, the crop size and the action:

    * ``'pad'`` (default): pad the image, with ``padding_mode`` / ``pad_val``, evenly on both
      sides by what it lacks; after ``padding`` and the crop the output has ``crop_size``.
    * ``'resize'``: scale the image up, keeping its aspect ratio, until it covers the crop.
    * ``'error'``: raise ``ValueError``.

    The mmsdt classification configs resize every image before the crop (``Resize(scale=S)``
    then ``CheckedRandomCrop(S, padding=4)``), so none of this happens there; it guards
    configs whose images are smaller than assumed. Needs mmpretrain.

    Args:
        crop_size, padding, pad_if_needed, pad_val, padding_mode: as mmpretrain's
            ``RandomCrop`` (its ``padding`` is filled with ``pad_val``; ``padding_mode``
            applies to the padding of small images).
        if_smaller (str): ``'pad'``, ``'resize'`` or ``'error'``.
    """

    def __init__(self, crop_size: Union[Sequence[int], int], padding=None,
                 pad_if_needed: bool = False, pad_val=0, padding_mode: str = 'constant',
                 if_smaller: str = 'pad'):
        from mmpretrain.datasets.transforms import RandomCrop
        if if_smaller not in ('pad', 'resize', 'error'):
            raise ValueError(f"if_smaller must be 'pad', 'resize' or 'error', got {if_smaller!r}")
        self.crop = RandomCrop(crop_size, padding=padding, pad_if_needed=pad_if_needed,
                               pad_val=pad_val, padding_mode=padding_mode)
        self.crop_size = self.crop.crop_size
        self.padding = padding
        self.if_smaller = if_smaller

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.crop!r}, if_smaller={self.if_smaller!r})'

    def _report(self, h: int, w: int, padded: Tuple[int, int], action: str) -> None:
        key = (h, w, tuple(self.crop_size), action)
        if key in _REPORTED:
            return
        _REPORTED.add(key)
        print_log(f'CheckedRandomCrop: a {h}x{w} image ({padded[0]}x{padded[1]} after padding '
                  f'{self.padding}) is smaller than crop_size {self.crop_size[0]}x'
                  f'{self.crop_size[1]}: {action}. Resize the images before the crop (e.g. '
                  f'Resize(scale={max(self.crop_size)})) to train at the size you configured.',
                  logger='current', level=30)

    def transform(self, results: dict) -> dict:
        """Crop ``results['img']`` (pad or resize it first if it is smaller than the crop)."""
        img = results['img']
        h, w = img.shape[:2]
        left, top, right, bottom = _padding_sides(self.padding)
        ph, pw = h + top + bottom, w + left + right
        th, tw = self.crop_size
        if (ph < th or pw < tw) and not self.crop.pad_if_needed:
            if self.if_smaller == 'error':
                raise ValueError(f'CheckedRandomCrop: a {h}x{w} image ({ph}x{pw} after padding '
                                 f'{self.padding}) is smaller than crop_size {th}x{tw} '
                                 f'({results.get("img_path", "image")})')
            if self.if_smaller == 'pad':
                dh, dw = max(0, th - ph), max(0, tw - pw)
                self._report(h, w, (ph, pw), f'padded by {dh}x{dw} ({self.crop.padding_mode}) '
                             'to the crop size')
                img = mmcv.impad(img, padding=(dw // 2, dh // 2, dw - dw // 2, dh - dh // 2),
                                 pad_val=self.crop.pad_val, padding_mode=self.crop.padding_mode)
            else:
                scale = max((th - top - bottom) / h, (tw - left - right) / w)
                size = (math.ceil(w * scale), math.ceil(h * scale))
                self._report(h, w, (ph, pw), f'resized to {size[1]}x{size[0]}')
                img = mmcv.imresize(img, size)
            results['img'] = img
        return self.crop.transform(results)
