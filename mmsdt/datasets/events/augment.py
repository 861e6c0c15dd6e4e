"""Spatial augmentations of event frames, applied identically to every frame of a sample.

They operate on ``results['img']`` = frames ``(T, P, H, W)`` (after
:class:`~mmsdt.datasets.events.frames.EventsToFrames`, or the frames a frame data set loads):
one random draw per sample, so all ``T`` frames get the same crop and the same flip (unlike a
per-frame image transform, reference ``dvs.md`` section 8 item 13). They update
``img_shape`` and leave ``results['events']`` as it is. :class:`EventRandomFlip` also works
before framing, on the events themselves.
"""
from typing import Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .frames import EventFramesError, sensor_hw, source_of

_CV2_MAX_CHANNELS = 4  # OpenCV INTER_AREA at a non-integer scale takes at most 4


def _pair(size: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or any(not isinstance(s, (int, np.integer)) or s <= 0 for s in pair):
        raise ValueError(f'{name} must be a positive int or (H, W), got {size!r}')
    return int(pair[0]), int(pair[1])


def frames_of(results: dict) -> np.ndarray:
    """``results['img']`` checked to be frames ``(T, P, H, W)``."""
    img = results.get('img')
    if img is None or getattr(img, 'ndim', None) != 4:
        raise EventFramesError(f'{source_of(results)}: expected frames (T, P, H, W) in '
                               f'results["img"], got {getattr(img, "shape", img)}')
    return img


class _FrameCrop(BaseTransform):
    """Common part of the crops: one window for every frame of the sample."""

    def __init__(self, crop_size: Union[int, Sequence[int]]):
        self.crop_size = _pair(crop_size, f'{type(self).__name__}: crop_size')

    def offset(self, height: int, width: int) -> Tuple[int, int]:
        """Top-left corner of the crop window."""
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Crop every frame with the same window."""
        img = frames_of(results)
        (height, width), (crop_h, crop_w) = img.shape[-2:], self.crop_size
        if crop_h > height or crop_w > width:
            raise EventFramesError(f'{source_of(results)}: frames of {height}x{width} (HxW) '
                                   f'are smaller than the crop {crop_h}x{crop_w}')
        top, left = self.offset(height, width)
        results['img'] = np.ascontiguousarray(img[..., top:top + crop_h, left:left + crop_w])
        results['img_shape'] = (crop_h, crop_w)
        results['crop_bbox'] = (left, top, left + crop_w, top + crop_h)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(crop_size={self.crop_size})'


@TRANSFORMS.register_module()
class EventRandomCrop(_FrameCrop):
    """Crop the same random window of ``crop_size`` from every frame of a sample.

    Args:
        crop_size (int | tuple): ``(H, W)`` of the window (an int for a square). Frames
            smaller than it are an error naming the sample.
    """

    def offset(self, height: int, width: int) -> Tuple[int, int]:
        return (np.random.randint(height - self.crop_size[0] + 1),
                np.random.randint(width - self.crop_size[1] + 1))


@TRANSFORMS.register_module()
class EventCenterCrop(_FrameCrop):
    """Crop the central window of ``crop_size`` from every frame (top-left rounds down).

    Args:
        crop_size (int | tuple): ``(H, W)`` of the window (an int for a square).
    """

    def offset(self, height: int, width: int) -> Tuple[int, int]:
        return (height - self.crop_size[0]) // 2, (width - self.crop_size[1]) // 2


@TRANSFORMS.register_module()
class EventResize(BaseTransform):
    """Resize every frame ``(T, P, H, W)`` to ``size`` = ``(H, W)``.

    ``interpolation='area'`` (OpenCV ``INTER_AREA``) gives each output pixel the mean count
    of the input pixels it covers when shrinking, so the total count scales with the area
    ratio and no event is skipped; enlarging with it interpolates. ``'nearest'`` keeps the
    values integer counts (every output pixel copies one input pixel), so shrinking skips
    pixels and their events.

    Args:
        size (int | tuple): output ``(H, W)`` (an int for a square).
        interpolation (str): ``'area'`` or ``'nearest'``.
    """

    MODES = {'area': cv2.INTER_AREA, 'nearest': cv2.INTER_NEAREST}

    def __init__(self, size: Union[int, Sequence[int]], interpolation: str = 'area'):
        self.size = _pair(size, 'EventResize: size')
        if interpolation not in self.MODES:
            raise ValueError(f'EventResize: interpolation must be one of '
                             f'{tuple(self.MODES)}, got {interpolation!r}')
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        """Resize all frames of one sample."""
        img = frames_of(results)
        frames, channels, height, width = img.shape
        if (height, width) != self.size:
            planes = img.reshape(frames * channels, height, width).transpose(1, 2, 0)
            out = [cv2.resize(np.ascontiguousarray(planes[..., i:i + _CV2_MAX_CHANNELS]),
                              self.size[::-1], interpolation=self.MODES[self.interpolation])
                   for i in range(0, planes.shape[-1], _CV2_MAX_CHANNELS)]
            out = [o[..., None] if o.ndim == 2 else o for o in out]  # cv2 drops a last 1-axis
            img = np.concatenate(out, -1).transpose(2, 0, 1).reshape(
                frames, channels, *self.size).astype(np.float32, copy=False)
        results['img'] = np.ascontiguousarray(img)
        results['img_shape'] = self.size
        results['scale_factor'] = (self.size[1] / width, self.size[0] / height)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'interpolation={self.interpolation!r})')


@TRANSFORMS.register_module()
class EventRandomFlip(BaseTransform):
    """Mirror a whole sample with probability ``prob``: all frames, or all events.

    On frames ``results['img']`` ``(T, P, H, W)`` it reverses the W axis (horizontal) or the H
    axis (vertical). Without frames it mirrors the events in ``results['events']``:
    ``x <- W - 1 - x`` (or ``y <- H - 1 - y``) with ``(W, H)`` from ``results['sensor_size']``;
    both give the same frames. Sets ``flip`` and ``flip_direction``.

    Args:
        prob (float): probability of the flip.
        direction (str): ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0 <= prob <= 1:
            raise ValueError(f'EventRandomFlip: prob must be in [0, 1], got {prob!r}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f'EventRandomFlip: direction must be "horizontal" or "vertical", '
                             f'got {direction!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        """Flip one sample or pass it through."""
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        if not flip:
            return results
        axis = -1 if self.direction == 'horizontal' else -2
        if results.get('img') is not None:
            results['img'] = np.ascontiguousarray(np.flip(frames_of(results), axis))
            return results
        if results.get('events') is None:
            raise EventFramesError(f'{source_of(results)}: nothing to flip (no "img", no '
                                   f'"events")')
        height, width = sensor_hw(results)
        events = results['events'].copy()
        field, extent = ('x', width) if axis == -1 else ('y', height)
        events[field] = extent - 1 - events[field]
        results['events'] = events
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob}, direction={self.direction!r})'
