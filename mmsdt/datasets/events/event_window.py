"""Reading the events of one time window of a recording: :class:`LoadEventWindow`.

A detection sample of an event recording is a labelled timestamp ``ts`` and the events of the
window ``(ts - window_us, ts]`` before it (open at its start, closed at its end: an event at
exactly ``ts`` belongs to the sample, one at exactly ``ts - window_us`` to the window before).
A window that begins before the recording (``ts < window_us``) holds the events from the
recording's start (``t >= 0``) to ``ts``; it keeps its nominal length, so the frames binned
over it (``EventsToFrames(align='window')``) keep their duration and the bins before ``t = 0``
are empty. A window without events is a valid sample: its events array is empty and its frames
are zero.

Recordings are opened once per process and kept in a small cache (:func:`open_recording`):
a window is read without decoding the whole recording per sample. Prophesee ``.dat`` /
``.raw`` files go through the windowed reader of
:mod:`~mmsdt.datasets.events.prophesee`; every other format is read once with
:func:`~mmsdt.datasets.events.io.read_events` and sliced with a binary search over its
sorted timestamps.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .io import read_events
from .prophesee import open_windowed
from .layout import EventFileError, check_in_sensor

#: Recordings kept open per process (a streaming sampler reads one recording at a time).
CACHE_SIZE = 4


class EventRecording:
    """The events of one recording, sliced by time.

    Args:
        path (str): the recording.
        events (numpy.ndarray, optional): its decoded events (sorted by ``t``) for formats
            read whole; ``None`` when ``reader`` reads windows itself.
        reader (optional): an object with ``read_window(t_start, t_end)`` returning the events
            with ``t_start <= t < t_end`` and ``t_last`` (µs), for formats with a windowed
            reader (Prophesee ``.dat`` / ``.raw``).
    """

    def __init__(self, path: str, events: Optional[np.ndarray] = None, reader=None):
        if (events is None) == (reader is None):
            raise ValueError('EventRecording: give exactly one of events and reader')
        self.path = path
        self.events = events
        self.reader = reader

    @property
    def t_last(self) -> Optional[int]:
        """The timestamp of the last event (µs), ``None`` for a recording without events."""
        if self.reader is not None:
            last = self.reader.t_last
            return None if last is None else int(last)
        return int(self.events['t'][-1]) if len(self.events) else None

    def check_labels(self, last_label_us: int, tolerance_us: int, box_file: str) -> None:
        """Raise ``EventFileError`` naming both files if labels up to ``last_label_us`` cannot
        belong to this recording: it has no events, or its last event comes more than
        ``tolerance_us`` before the last label."""
        t_last = self.t_last
        pair = f'box file {box_file} (events {self.path})'
        if t_last is None:
            raise EventFileError(f'{pair}: the event file holds no events but the box file has '
                                 f'labels up to {last_label_us} µs')
        if last_label_us > t_last + tolerance_us:
            raise EventFileError(
                f'{pair}: labels reach {last_label_us} µs but the events end at {t_last} µs '
                f'(tolerance {tolerance_us} µs); the box file does not belong to these events')

    def window(self, t_start: int, t_end: int) -> np.ndarray:
        """The events with ``t_start < t <= t_end`` (µs), in time order."""
        if self.reader is not None:
            # half-open [t_start + 1, t_end + 1) on integer µs is (t_start, t_end]
            return self.reader.read_window(int(t_start) + 1, int(t_end) + 1)
        t = self.events['t']
        low = int(np.searchsorted(t, t_start, side='right'))
        high = int(np.searchsorted(t, t_end, side='right'))
        return self.events[low:max(low, high)]


_OPEN: 'OrderedDict[Tuple[str, float], EventRecording]' = OrderedDict()


def _windowed_reader(path: str):
    """The Prophesee windowed reader for ``.dat`` / ``.raw`` files, else ``None``."""
    if not path.lower().endswith(('.dat', '.raw')):
        return None
    return open_windowed(path)


def open_recording(path: str) -> EventRecording:
    """The :class:`EventRecording` of ``path``, cached per process (keyed by path and
    modification time, so a rewritten file is read again)."""
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'event file {path} does not exist')
    key = (osp.abspath(path), osp.getmtime(path))
    recording = _OPEN.get(key)
    if recording is not None:
        _OPEN.move_to_end(key)
        return recording
    reader = _windowed_reader(path)
    if reader is not None:
        recording = EventRecording(path, reader=reader)
    else:
        recording = EventRecording(path, events=read_events(path, allow_empty=True))
    _OPEN[key] = recording
    while len(_OPEN) > CACHE_SIZE:
        _OPEN.popitem(last=False)
    return recording


@TRANSFORMS.register_module()
class LoadEventWindow(BaseTransform):
    """Read the events of ``(timestamp - window_us, timestamp]`` into ``results['events']``.

    Reads ``results['event_file']``, ``results['timestamp']`` and ``results['window_us']``
    (µs; the data info of :class:`~mmsdt.datasets.events.prophesee_det.PropheseeDetDataset`)
    and adds ``events`` (:data:`~.layout.EVENT_DTYPE`, time order, possibly empty),
    ``event_window`` = ``(timestamp - window_us, timestamp)`` (the bounds the frames are binned
    over, ``EventsToFrames(align='window')``) and ``events_path`` (named in errors). The
    window semantics (open start, closed end, windows before the recording's start, empty
    windows) are in the module docstring. Events outside ``results['sensor_size']`` ``(W, H)``
    are an error naming the file and the window. With ``last_label_us`` (and
    ``time_tolerance_us``, ``box_file``) in the data info, a box file that cannot belong to the
    recording is an error naming both files (:meth:`EventRecording.check_labels`).

    Args:
        window_us (int, optional): overrides the data info's ``window_us``.
        check_bounds (bool): check the events against the sensor size.
    """

    def __init__(self, window_us: Optional[int] = None, check_bounds: bool = True) -> None:
        if window_us is not None and not (isinstance(window_us, (int, np.integer))
                                          and window_us > 0):
            raise ValueError(f'LoadEventWindow: window_us must be a positive integer (µs), '
                             f'got {window_us!r}')
        self.window_us = window_us
        self.check_bounds = check_bounds

    def transform(self, results: dict) -> dict:
        """Load the window of one sample."""
        for key in ('event_file', 'timestamp'):
            if key not in results:
                raise KeyError(f'LoadEventWindow: the data info has no "{key}"')
        path = results['event_file']
        window_us = self.window_us if self.window_us is not None else results.get('window_us')
        if window_us is None:
            raise KeyError(f'LoadEventWindow: {path}: no "window_us" in the data info and none '
                           f'given to the transform')
        t_end = int(results['timestamp'])
        t_start = t_end - int(window_us)
        recording = open_recording(path)
        if results.get('last_label_us') is not None:
            recording.check_labels(int(results['last_label_us']),
                                   int(results.get('time_tolerance_us', 0)),
                                   results.get('box_file', '<unknown box file>'))
        events = recording.window(t_start, t_end)
        if self.check_bounds:
            if results.get('sensor_size') is None:
                raise KeyError(f'LoadEventWindow: {path}: no "sensor_size" (W, H) in the data '
                               f'info to check the events against')
            check_in_sensor(events, results['sensor_size'],
                            f'{path} window ({t_start}, {t_end}] µs')
        if len(events) and (events['t'][0] <= t_start or events['t'][-1] > t_end):
            raise EventFileError(f'{path}: the windowed read of ({t_start}, {t_end}] µs returned '
                                 f'events at {events["t"][0]}..{events["t"][-1]} µs')
        results['events'] = events
        results['event_window'] = (t_start, t_end)
        results['window_us'] = int(window_us)
        results['events_path'] = path
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(window_us={self.window_us}, '
                f'check_bounds={self.check_bounds})')
