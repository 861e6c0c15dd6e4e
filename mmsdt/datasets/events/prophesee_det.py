"""Prophesee automotive detection releases (Gen1, 1Mpx) as an mmdet data set.

:class:`PropheseeDetDataset` reads a split folder of the public releases' layout: per
recording ``<name>_td.dat`` (or ``<name>_td.raw`` / ``<name>.raw`` of the 1Mpx release, or
``<name>_td.npz`` / ``<name>_td.npy``) with its events and ``<name>_bbox.npy`` with its boxes
(fields ``ts`` (µs; ``t`` in older files), ``x``, ``y``, ``w``, ``h`` (top-left corner and
size in pixels), ``class_id``, ``track_id``, ``confidence``).

A sample is one distinct box timestamp of a recording: its targets are the boxes with exactly
that timestamp, converted to mmdet's ``(x1, y1, x2, y2) = (x, y, x + w, y + h)``; its input is
the events of ``(ts - window_us, ts]`` (:class:`~.event_window.LoadEventWindow`). Listing
reads the box files only; events are decoded in the pipeline, one window at a time.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets import BaseDetDataset

from mmsdt.registry import DATASETS

from .base import natural_sorted, require_dir
from .prophesee_boxes import read_prophesee_boxes

GEN1_CLASSES = ('car', 'pedestrian')
MPX_CLASSES = ('pedestrian', 'two wheeler', 'car', 'truck', 'bus', 'traffic sign',
               'traffic light')
#: The 1Mpx classes the published evaluation scores (class ids 0, 1, 2).
MPX_EVALUATED_CLASSES = ('pedestrian', 'two wheeler', 'car')
RELEASES: Dict[str, dict] = {
    'gen1': dict(classes=GEN1_CLASSES, sensor_size=(304, 240)),
    '1mpx': dict(classes=MPX_CLASSES, sensor_size=(1280, 720)),
}
#: Event file names tried for a recording ``<name>``, in this order.
EVENT_SUFFIXES = ('_td.dat', '_td.raw', '.raw', '_td.npz', '_td.npy')
BOX_SUFFIX = '_bbox.npy'


def _time_field(boxes: np.ndarray) -> str:
    return 'ts' if 'ts' in boxes.dtype.names else 't'


@DATASETS.register_module()
class PropheseeDetDataset(BaseDetDataset):
    """mmdet data set over a split folder of a Prophesee automotive release.

    Samples (module docstring): one per distinct box timestamp of a recording, in recording
    order (names sorted with digit runs compared as numbers) and time order within a
    recording. A recording whose box file holds no box yields no sample. Each data info has
    ``recording`` (the name), ``event_file``, ``box_file``, ``timestamp`` (µs),
    ``window_us``, ``sensor_size`` ``(W, H)``, ``instances`` (``bbox`` xyxy float,
    ``bbox_label``, ``ignore_flag`` 0), ``first_in_recording``, ``sample_idx``,
    ``last_label_us`` and ``time_tolerance_us``.
    ``first_in_recording`` is True for the first sample of each recording among the samples
    kept after filtering and ``indices``: a streaming model resets its state there
    (:class:`~mmsdt.datasets.samplers.RecordingStreamSampler` keeps each recording's samples
    consecutive and in time order).

    Filtering is mmdet's: ``filter_cfg=dict(filter_empty_gt=True)`` drops timestamps without
    a box of the selected classes, and is ignored with ``test_mode=True``; evaluation keeps
    every labelled timestamp, as the protocol metric needs. A recording whose filtered samples
    leave a gap carries its streaming state across the gap.

    Classes: ``release='gen1'`` (``car``, ``pedestrian``; 304 x 240) or ``'1mpx'`` (the 7
    released names ``pedestrian``, ``two wheeler``, ``car``, ``truck``, ``bus``,
    ``traffic sign``, ``traffic light``; 1280 x 720), the file's ``class_id`` indexing that
    list. ``metainfo=dict(classes=...)`` selects a subset by name (the 1Mpx evaluation uses
    :data:`MPX_EVALUATED_CLASSES`); labels follow the subset's order and boxes of other
    classes are dropped. ``metainfo=dict(sensor_size=(W, H))`` sets another sensor (a smaller
    toy set). ``release=None`` takes both from ``metainfo``, the file's ``class_id`` indexing
    its ``classes``.

    Checks at listing (which reads the box files only), each an error naming the files: a box
    file without its event file or an event file without its box file
    (``FileNotFoundError``); box timestamps not sorted or a box file without a needed field
    (the box reader); a ``class_id`` outside the release's list; a box with non-positive width
    or height or outside the sensor (``0 <= x1``, ``x2 <= W``, ``0 <= y1``, ``y2 <= H``),
    unless ``clip_boxes=True``, which crops boxes to the sensor and drops those without area,
    as RVT does with the released labels (some overhang the frame: use it for the real
    releases). Checks when a window is read (:class:`~.event_window.LoadEventWindow`; opening
    a long ``.dat`` scans its time column once, too slow to do for a whole release at
    listing): labels later than the recording's last event by more than
    ``time_tolerance_us`` or a labelled recording without events (a box file paired with
    another recording's events), and events outside the sensor. Data infos carry
    ``box_file``, ``last_label_us`` and ``time_tolerance_us`` for them.

    Args:
        data_root (str): the release's root folder.
        split (str): the split's folder under ``data_root`` (``'train'``, ``'val'``,
            ``'test'`` as released; ``''`` for ``data_root`` itself).
        release (str, optional): ``'gen1'``, ``'1mpx'`` or ``None`` (see above).
        window_us (int): the event window before each labelled timestamp, µs (50 ms: RVT's
            window; SpikeYOLO's Gen1 preprocessing uses 250 ms).
        clip_boxes (bool): crop boxes to the sensor instead of raising.
        time_tolerance_us (int): how far the last label may lie after the last event, µs.
        **kwargs: the other arguments of mmdet's ``BaseDetDataset`` (``metainfo``,
            ``pipeline``, ``filter_cfg``, ``test_mode``, ``indices``, ``serialize_data``...).
    """

    METAINFO = dict(RELEASES['gen1'])

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 release: Optional[str] = 'gen1',
                 window_us: int = 50_000,
                 clip_boxes: bool = False,
                 time_tolerance_us: int = 500_000,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if release is not None and release not in RELEASES:
            raise ValueError(f'PropheseeDetDataset: release {release!r} is not one of '
                             f'{sorted(RELEASES)} or None')
        if not (isinstance(window_us, (int, np.integer)) and window_us > 0):
            raise ValueError(f'PropheseeDetDataset: window_us must be a positive integer (µs), '
                             f'got {window_us!r}')
        given = dict(metainfo or {})
        if release is None and not {'classes', 'sensor_size'} <= set(given):
            raise ValueError('PropheseeDetDataset: release=None needs metainfo with classes and '
                             'sensor_size (W, H)')
        base = dict(RELEASES[release]) if release is not None else {}
        self.release = release
        self.release_classes = tuple(given['classes'] if release is None else
                                     base['classes'])
        self.split = split
        self.window_us = int(window_us)
        self.clip_boxes = clip_boxes
        self.time_tolerance_us = int(time_tolerance_us)
        super().__init__(data_root=data_root, metainfo={**base, **given}, **kwargs)

    # ---- listing -------------------------------------------------------------------------

    def full_init(self) -> None:
        """mmdet's ``full_init`` (list, filter, ``indices``, serialise) with
        ``first_in_recording`` set on the samples that remain."""
        if self._fully_initialized:
            return
        if self.proposal_file is not None:
            raise ValueError('PropheseeDetDataset: proposal files are not supported')
        self.data_list = self.load_data_list()
        self.data_list = self.filter_data()
        if self._indices is not None:
            self.data_list = self._get_unserialized_subset(self._indices)
        previous = None
        for info in self.data_list:
            info['first_in_recording'] = info['recording'] != previous
            previous = info['recording']
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
        self._fully_initialized = True

    def split_folder(self) -> str:
        """The folder the split is read from."""
        return osp.join(self.data_root, self.split) if self.split else self.data_root

    def list_recordings(self) -> List[Tuple[str, str, str]]:
        """``(name, event_file, box_file)`` of every recording of the split, by name.

        Raises:
            FileNotFoundError: the folder is missing, holds no recording, or a box file has no
                event file (or the reverse); the error names both.
            ValueError: one recording has two event files.
        """
        folder = require_dir(self.split_folder(), 'PropheseeDetDataset split')
        files = set(os.listdir(folder))
        boxes = {f[:-len(BOX_SUFFIX)] for f in files if f.endswith(BOX_SUFFIX)}
        events: Dict[str, List[str]] = {}
        for f in files:
            for suffix in EVENT_SUFFIXES:
                if f.endswith(suffix):
                    events.setdefault(f[:-len(suffix)], []).append(f)
                    break
        expected = ', '.join('<name>' + s for s in EVENT_SUFFIXES)
        for name in natural_sorted(boxes - set(events)):
            raise FileNotFoundError(
                f'PropheseeDetDataset: box file {osp.join(folder, name + BOX_SUFFIX)} has no '
                f'event file (expected one of {expected} in {folder})')
        for name in natural_sorted(set(events) - boxes):
            raise FileNotFoundError(
                f'PropheseeDetDataset: event file {osp.join(folder, events[name][0])} has no '
                f'box file (expected {osp.join(folder, name + BOX_SUFFIX)})')
        if not boxes:
            raise FileNotFoundError(f'PropheseeDetDataset: {folder} holds no recording '
                                    f'(<name>_bbox.npy with one of {expected})')
        out = []
        for name in natural_sorted(boxes):
            if len(events[name]) > 1:
                raise ValueError(f'PropheseeDetDataset: recording {name} in {folder} has '
                                 f'several event files {sorted(events[name])}; keep one')
            out.append((name, osp.join(folder, events[name][0]),
                        osp.join(folder, name + BOX_SUFFIX)))
        return out

    def load_data_list(self) -> List[dict]:
        """One data info per distinct box timestamp of every recording (class docstring)."""
        classes = tuple(self.metainfo['classes'])
        unknown = [c for c in classes if c not in self.release_classes]
        if unknown:
            raise ValueError(f'PropheseeDetDataset: classes {unknown} are not in the '
                             f'{self.release} release classes {self.release_classes}')
        label_of = np.full(len(self.release_classes), -1, np.int64)
        for label, name in enumerate(classes):
            label_of[self.release_classes.index(name)] = label
        sensor_size = tuple(int(v) for v in self.metainfo['sensor_size'])
        data_list = []
        for name, event_file, box_file in self.list_recordings():
            boxes = self.checked_boxes(read_prophesee_boxes(box_file), event_file, box_file,
                                       sensor_size)
            if len(boxes) == 0:
                continue
            data_list.extend(self.recording_samples(name, event_file, box_file, boxes,
                                                    label_of, sensor_size))
        return data_list

    def checked_boxes(self, boxes: np.ndarray, event_file: str, box_file: str,
                      sensor_size: Sequence[int]) -> np.ndarray:
        """The boxes of ``box_file`` checked (class ids, sizes, sensor; errors name both
        files) and, with ``clip_boxes``, cropped to the sensor."""
        pair = f'box file {box_file} (events {event_file})'
        if len(boxes) == 0:
            return boxes
        class_id = boxes['class_id'].astype(np.int64)
        bad = (class_id < 0) | (class_id >= len(self.release_classes))
        if bad.any():
            raise ValueError(f'PropheseeDetDataset: {pair}: class_id {class_id[bad][0]} is '
                             f'outside the class list {self.release_classes} '
                             f'(0..{len(self.release_classes) - 1})')
        x, y = boxes['x'].astype(np.float64), boxes['y'].astype(np.float64)
        w, h = boxes['w'].astype(np.float64), boxes['h'].astype(np.float64)
        flat = ~((w > 0) & (h > 0))
        if flat.any() and not self.clip_boxes:
            i = int(np.flatnonzero(flat)[0])
            raise ValueError(f'PropheseeDetDataset: {pair}: box {i} has w = {w[i]}, h = {h[i]}; '
                             f'expected a positive width and height (clip_boxes=True drops '
                             f'boxes without area)')
        width, height = sensor_size
        outside = (x < 0) | (y < 0) | (x + w > width) | (y + h > height)
        if outside.any() and not self.clip_boxes:
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f'PropheseeDetDataset: {pair}: {int(outside.sum())} boxes lie outside the sensor '
                f'(W, H) = ({width}, {height}), e.g. box {i} (x, y, w, h) = '
                f'({x[i]}, {y[i]}, {w[i]}, {h[i]}); pass clip_boxes=True to crop them')
        if self.clip_boxes:
            x1, y1 = np.clip(x, 0, width), np.clip(y, 0, height)
            x2, y2 = np.clip(x + w, 0, width), np.clip(y + h, 0, height)
            boxes = boxes.copy()
            boxes['x'], boxes['y'], boxes['w'], boxes['h'] = x1, y1, x2 - x1, y2 - y1
            boxes = boxes[(x2 > x1) & (y2 > y1)]
            if len(boxes) == 0:
                return boxes
        return boxes

    def recording_samples(self, name: str, event_file: str, box_file: str, boxes: np.ndarray,
                          label_of: np.ndarray, sensor_size: Tuple[int, int]) -> List[dict]:
        """The data infos of one recording: one per distinct timestamp, in time order."""
        ts = boxes[_time_field(boxes)].astype(np.int64)
        x, y = boxes['x'].astype(np.float64), boxes['y'].astype(np.float64)
        xyxy = np.stack([x, y, x + boxes['w'], y + boxes['h']], axis=1).astype(np.float32)
        labels = label_of[boxes['class_id'].astype(np.int64)]
        stamps, starts = np.unique(ts, return_index=True)
        ends = np.append(starts[1:], len(ts))
        samples = []
        for stamp, start, end in zip(stamps, starts, ends):
            instances = [dict(bbox=xyxy[i].tolist(), bbox_label=int(labels[i]), ignore_flag=0)
                         for i in range(start, end) if labels[i] >= 0]
            samples.append(dict(recording=name, event_file=event_file, box_file=box_file,
                                timestamp=int(stamp), window_us=self.window_us,
                                sensor_size=sensor_size, instances=instances,
                                first_in_recording=False, last_label_us=int(ts[-1]),
                                time_tolerance_us=self.time_tolerance_us))
        return samples

    def filter_data(self) -> List[dict]:
        """mmdet's filtering: ``filter_empty_gt`` drops samples without a box, except in
        ``test_mode``."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        if self.filter_cfg.get('filter_empty_gt', False):
            return [info for info in self.data_list if info['instances']]
        return self.data_list
