"""Event denoising: a background-activity filter and a refractory filter, vectorised numpy.

Both work on ``results['events']`` before framing, in time order (events are sorted stably by
``t`` first), and cost ``O(N log N)``: no per-event Python loop (tonic's ``Denoise`` and
``RefractoryPeriod`` loop over events, reference ``dvs.md`` section 5.6 item 5).
"""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .frames import EventFramesError, check_events, sensor_hw, source_of

_OFFSETS = {
    4: ((-1, 0), (1, 0), (0, -1), (0, 1)),
    8: ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)),
}


def _sorted_events(results: dict, name: str) -> Tuple[np.ndarray, int, int]:
    events = results.get('events')
    if events is None:
        raise EventFramesError(f'{source_of(results)}: {name} needs "events" (put it before '
                               f'EventsToFrames)')
    height, width = sensor_hw(results)
    return check_events(events, height, width, source_of(results)), height, width


def background_activity_mask(x: np.ndarray, y: np.ndarray, t: np.ndarray, width: int,
                             height: int, filter_time: float, neighbourhood: int = 8
                             ) -> np.ndarray:
    """Which events (sorted by ``t``) have support: an earlier event in the stream at a
    neighbouring pixel (not the pixel itself) with ``t - t_neighbour <= filter_time``."""
    n = len(t)
    x, y, t = x.astype(np.int64), y.astype(np.int64), t.astype(np.int64)
    order = np.arange(n, dtype=np.int64)
    keys = np.sort((y * width + x) * n + order)  # events grouped by pixel, in stream order
    support = np.zeros(n, bool)
    for dx, dy in _OFFSETS[neighbourhood]:
        nx, ny = x + dx, y + dy
        inside = (nx >= 0) & (nx < width) & (ny >= 0) & (ny < height)
        pixel = ny * width + nx
        # the last event at the neighbouring pixel before this one in the stream
        pos = np.searchsorted(keys, pixel * n + order, side='left') - 1
        found = keys[np.maximum(pos, 0)]
        earlier = inside & (pos >= 0) & (found // n == pixel)
        support |= earlier & (t - t[found % n] <= filter_time)
    return support


def refractory_mask(x: np.ndarray, y: np.ndarray, t: np.ndarray, width: int,
                    period: float) -> np.ndarray:
    """Which events (sorted by ``t``) a pixel emits with dead time ``period``: the first event
    of a pixel is kept, then each event with ``t - t_last_kept > period``; dropped events do
    not extend the dead time. The loop runs over the kept events of the busiest pixel, each
    step vectorised over all pixels."""
    n = len(t)
    t = t.astype(np.int64)
    pixel = y.astype(np.int64) * width + x.astype(np.int64)
    order = np.lexsort((np.arange(n), t, pixel))  # by pixel, then time, then stream order
    span = int(t.max() - t.min()) + int(np.ceil(period)) + 2
    if int(pixel.max()) + 1 > np.iinfo(np.int64).max // span:
        raise OverflowError(f'refractory filter: recording of {span} µs too long for the key')
    key = pixel[order] * span + (t[order] - t.min())
    kept = np.zeros(n, bool)
    current = np.flatnonzero(np.r_[True, pixel[order][1:] != pixel[order][:-1]])
    while current.size:
        kept[current] = True
        nxt = np.searchsorted(key, key[current] + period, side='right')
        same = nxt < n
        same[same] = pixel[order][nxt[same]] == pixel[order][current[same]]
        current = nxt[same]
    mask = np.zeros(n, bool)
    mask[order[kept]] = True
    return mask


@TRANSFORMS.register_module()
class EventDenoise(BaseTransform):
    """Background-activity filter: drop events without a recent neighbour.

    An event at pixel ``(x, y)`` and time ``t`` is kept when one of its ``neighbourhood``
    pixels (4: left/right/up/down, 8: also the diagonals; never the pixel itself) had an event
    earlier in the stream at a time ``t' >= t - filter_time``. Isolated noise events have no
    such neighbour; the edges of moving objects do. Every event needs support, including the
    first ones of a recording (unlike tonic's ``Denoise``, which keeps every event of the
    first ``filter_time`` µs). A result with no event is an error naming the recording.

    Args:
        filter_time (float): support window in µs (typical: 1000 - 10000).
        neighbourhood (int): 4 or 8.
    """

    def __init__(self, filter_time: float, neighbourhood: int = 8):
        if not filter_time > 0:
            raise ValueError(f'EventDenoise: filter_time must be > 0 µs, got {filter_time!r}')
        if neighbourhood not in _OFFSETS:
            raise ValueError(f'EventDenoise: neighbourhood must be 4 or 8, got '
                             f'{neighbourhood!r}')
        self.filter_time = filter_time
        self.neighbourhood = neighbourhood

    def transform(self, results: dict) -> dict:
        """Filter the events of one sample."""
        events, height, width = _sorted_events(results, 'EventDenoise')
        keep = background_activity_mask(events['x'], events['y'], events['t'], width, height,
                                        self.filter_time, self.neighbourhood)
        if not keep.any():
            raise EventFramesError(f'{source_of(results)}: EventDenoise(filter_time='
                                   f'{self.filter_time}) removed all {len(events)} events')
        results['events'] = events[keep]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(filter_time={self.filter_time}, '
                f'neighbourhood={self.neighbourhood})')


@TRANSFORMS.register_module()
class EventRefractory(BaseTransform):
    """Refractory filter: a pixel emits no event within ``period`` µs after its last one.

    Per pixel (both polarities together), the first event is kept, then every event with
    ``t - t_last_kept > period`` (as a DVS pixel's dead time, reference ``dvs.md`` section
    7.1 step 8); events inside the dead time are dropped and do not extend it. It thins
    bursts of one pixel and never removes a pixel's first event.

    Args:
        period (float): dead time in µs (typical: 100 - 1000).
    """

    def __init__(self, period: float):
        if not period >= 0:
            raise ValueError(f'EventRefractory: period must be >= 0 µs, got {period!r}')
        self.period = period

    def transform(self, results: dict) -> dict:
        """Filter the events of one sample."""
        events, _, width = _sorted_events(results, 'EventRefractory')
        results['events'] = events[refractory_mask(events['x'], events['y'], events['t'],
                                                   width, self.period)]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(period={self.period})'
