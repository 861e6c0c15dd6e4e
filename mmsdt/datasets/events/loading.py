"""Pipeline steps that load one sample of an event data set.

:class:`LoadEvents` reads a recording (``results['events_path']``) with
:func:`~mmsdt.datasets.events.io.read_events` and cuts the labelled interval of DVS128
Gesture's original release; :class:`LoadHARDVSFrames` reads a clip of HARDVS's rendered
frames and turns it into the two binary channels the paper's code uses.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image

from mmsdt.registry import TRANSFORMS
from .base import natural_sorted
from .io import read_events
from .layout import EventFileError, check_in_sensor


@TRANSFORMS.register_module()
class LoadEvents(BaseTransform):
    """Read ``results['events_path']`` into ``results['events']`` (:data:`EVENT_DTYPE`).

    If the data info has ``t_start`` and / or ``t_end`` (µs, DVS128 Gesture's labelled
    intervals), only the events with ``t_start <= t < t_end`` are kept; timestamps are not
    shifted. The events are checked against ``results['sensor_size']`` ``(W, H)`` (the data
    set's metainfo): an event outside is an error naming the file and the largest x and y.
    A sample without events (an empty file or an empty interval) is an error naming the file
    and the interval.

    Args:
        check_bounds (bool): check the events against the sensor size.
    """

    def __init__(self, check_bounds: bool = True) -> None:
        self.check_bounds = check_bounds

    def transform(self, results: dict) -> dict:
        """Load (and cut) the events of one sample."""
        if 'events_path' not in results:
            raise KeyError('LoadEvents: the data info has no "events_path"')
        path = results['events_path']
        events = read_events(path)
        t_start, t_end = results.get('t_start'), results.get('t_end')
        source = str(path)
        if t_start is not None or t_end is not None:
            t = events['t']
            low = 0 if t_start is None else int(np.searchsorted(t, t_start, side='left'))
            high = len(t) if t_end is None else int(np.searchsorted(t, t_end, side='left'))
            events = events[low:max(low, high)]
            source = f'{path} [t_start={t_start}, t_end={t_end}) µs'
        if events.shape[0] == 0:
            raise EventFileError(f'{source}: the sample holds no events')
        if self.check_bounds:
            if results.get('sensor_size') is None:
                raise KeyError(f'LoadEvents: {path}: no "sensor_size" (W, H) in the data info '
                               f'to check the events against')
            check_in_sensor(events, results['sensor_size'], source)
        results['events'] = events
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(check_bounds={self.check_bounds})'


@TRANSFORMS.register_module()
class LoadHARDVSFrames(BaseTransform):
    """Read ``clip_len`` consecutive frames of ``results['frame_dir']`` into
    ``results['img']``, float32 ``(T, 2, H, W)`` with values in {0, 1}.

    Frame files (``extensions``) are taken in name order with digit runs compared as numbers.
    The clip starts at a random frame in training and at the centre
    (``(n - clip_len) // 2``) with ``test_mode=True``, so evaluation is deterministic. A
    folder with fewer than ``clip_len`` frames is zero-padded at the end with
    ``short_clip='pad'`` (the paper's handling) or is an error naming the folder with
    ``short_clip='error'``; a folder without frames is always an error.

    Each frame is read as greyscale (PIL ``'L'``), its short side resized to ``scale``
    (bicubic, the long side truncated like torchvision's ``Resize``), centre-cropped to
    ``crop_size`` and scaled to [0, 1]. With ``thresholds = (dark, low, high)``, channel 0 is
    1 where ``v < dark`` and channel 1 is 1 where ``low < v <= high``: the two event colours of
    the rendered frames on their light background. The defaults are the paper's code's
    (0.12, 0.30, 0.78); they depend on the rendering colours.

    Adds ``img``, ``img_shape`` / ``ori_shape`` ``(H, W)``, ``num_frames`` (T, the clip's
    length, as :class:`~mmsdt.datasets.events.frames.EventsToFrames` sets it),
    ``total_frames`` (frames in the folder) and ``frame_inds`` (the frame indices used;
    ``-1`` marks a padded frame).

    Args:
        clip_len (int): frames per clip, T.
        thresholds (Sequence[float]): ``(dark, low, high)`` on [0, 1] grey values.
        scale (int, optional): short side after resizing; ``None`` keeps the size.
        crop_size (int, optional): side of the centre crop; ``None`` keeps the size.
        test_mode (bool): centre clip instead of a random one.
        short_clip (str): ``'pad'`` or ``'error'`` for folders shorter than ``clip_len``.
        extensions (Sequence[str]): frame file extensions.
    """

    SHORT_CLIP = ('pad', 'error')

    def __init__(self, clip_len: int = 8, thresholds: Sequence[float] = (0.12, 0.30, 0.78),
                 scale: Optional[int] = 256, crop_size: Optional[int] = 224,
                 test_mode: bool = False, short_clip: str = 'pad',
                 extensions: Sequence[str] = ('.png', '.jpg', '.jpeg', '.bmp')) -> None:
        if not (isinstance(clip_len, int) and clip_len > 0):
            raise ValueError(f'LoadHARDVSFrames: clip_len must be a positive int, got '
                             f'{clip_len!r}')
        if len(thresholds) != 3 or not all(0.0 <= v <= 1.0 for v in thresholds) or \
                not thresholds[1] < thresholds[2]:
            raise ValueError(f'LoadHARDVSFrames: thresholds must be (dark, low, high) in '
                             f'[0, 1] with low < high, got {thresholds!r}')
        if short_clip not in self.SHORT_CLIP:
            raise ValueError(f'LoadHARDVSFrames: short_clip must be one of {self.SHORT_CLIP}, '
                             f'got {short_clip!r}')
        self.clip_len = clip_len
        self.thresholds = tuple(float(v) for v in thresholds)
        self.scale = scale
        self.crop_size = crop_size
        self.test_mode = test_mode
        self.short_clip = short_clip
        self.extensions = tuple(e.lower() for e in extensions)

    def frame_files(self, frame_dir: str) -> list:
        """The frame files of ``frame_dir`` in temporal (natural name) order."""
        if not osp.isdir(frame_dir):
            raise FileNotFoundError(f'LoadHARDVSFrames: frame folder {frame_dir} does not '
                                    f'exist')
        names = natural_sorted(n for n in os.listdir(frame_dir)
                               if n.lower().endswith(self.extensions))
        if not names:
            raise ValueError(f'LoadHARDVSFrames: {frame_dir} holds no frame '
                             f'({"/".join(self.extensions)})')
        return [osp.join(frame_dir, n) for n in names]

    def clip_indices(self, total: int, frame_dir: str) -> np.ndarray:
        """Indices of the clip's frames; ``-1`` for zero-padded frames."""
        if total < self.clip_len:
            if self.short_clip == 'error':
                raise ValueError(f'LoadHARDVSFrames: {frame_dir} holds {total} frames, '
                                 f'fewer than clip_len={self.clip_len}')
            return np.concatenate([np.arange(total),
                                   np.full(self.clip_len - total, -1)])
        if self.test_mode:
            start = (total - self.clip_len) // 2
        else:
            start = np.random.randint(0, total - self.clip_len + 1)
        return np.arange(start, start + self.clip_len)

    def grey(self, path: str) -> np.ndarray:
        """One frame as float32 grey values in [0, 1] after resizing and cropping."""
        try:
            with Image.open(path) as img:
                img = img.convert('L')
                if self.scale is not None:
                    w, h = img.size
                    if w <= h:
                        size = (self.scale, int(self.scale * h / w))
                    else:
                        size = (int(self.scale * w / h), self.scale)
                    if size != (w, h):
                        img = img.resize(size, Image.BICUBIC)
                grey = np.asarray(img, dtype=np.float32)
        except OSError as err:
            raise OSError(f'LoadHARDVSFrames: cannot read frame {path}: {err}') from err
        if self.crop_size is not None:
            h, w = grey.shape
            if h < self.crop_size or w < self.crop_size:
                raise ValueError(f'LoadHARDVSFrames: frame {path} is {w}x{h} after resizing, '
                                 f'smaller than crop_size={self.crop_size}')
            top = int(round((h - self.crop_size) / 2.0))
            left = int(round((w - self.crop_size) / 2.0))
            grey = grey[top:top + self.crop_size, left:left + self.crop_size]
        return grey / np.float32(255.0)

    def binarise(self, grey: np.ndarray) -> np.ndarray:
        """``(2, H, W)`` float32: channel 0 ``v < dark``, channel 1 ``low < v <= high``."""
        dark, low, high = self.thresholds
        return np.stack([grey < dark, (grey > low) & (grey <= high)]).astype(np.float32)

    def transform(self, results: dict) -> dict:
        """Load the clip of one sample."""
        frame_dir = results['frame_dir']
        files = self.frame_files(frame_dir)
        inds = self.clip_indices(len(files), frame_dir)
        frames = [self.binarise(self.grey(files[i])) for i in inds if i >= 0]
        height, width = frames[0].shape[1:]
        clip = np.zeros((self.clip_len, 2, height, width), np.float32)
        for k, frame in enumerate(frames):
            if frame.shape[1:] != (height, width):
                raise ValueError(f'LoadHARDVSFrames: frames of {frame_dir} differ in size '
                                 f'({frame.shape[2]}x{frame.shape[1]} vs {width}x{height})')
            clip[k] = frame
        results['img'] = clip
        results['img_shape'] = (height, width)
        results['ori_shape'] = (height, width)
        results['num_frames'] = self.clip_len
        results['total_frames'] = len(files)
        results['frame_inds'] = inds
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_len={self.clip_len}, thresholds='
                f'{self.thresholds}, scale={self.scale}, crop_size={self.crop_size}, '
                f'test_mode={self.test_mode}, short_clip={self.short_clip!r})')
