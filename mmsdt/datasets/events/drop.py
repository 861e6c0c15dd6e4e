"""EventDrop: remove events by time, by area or at random before framing.

EventDrop (Gu et al., 2021) picks one of identity / drop by time / drop by area / random drop
per sample. The rules here, written from that description, avoid the defects listed in
reference ``dvs.md`` (section 5.6 items 2-3, section 8 item 19): ranges are sampled from
``[low, high)``, the time interval lies inside the recording whatever its first timestamp, and
the area rule removes the events inside one rectangle (x **and** y in the box).
"""
from typing import Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .frames import EventFramesError, sensor_hw, source_of

Ratio = Union[float, Sequence[float]]


def _ratio_range(ratio: Ratio, name: str) -> Tuple[float, float]:
    low, high = (ratio, ratio) if isinstance(ratio, (int, float)) else tuple(ratio)
    if not 0 <= low <= high < 1:
        raise ValueError(f'EventDrop: {name} must be a float or (low, high) with '
                         f'0 <= low <= high < 1, got {ratio!r}')
    return float(low), float(high)


def _draw(bounds: Tuple[float, float]) -> float:
    low, high = bounds
    return low if low == high else float(np.random.uniform(low, high))


@TRANSFORMS.register_module()
class EventDrop(BaseTransform):
    """Drop a part of ``results['events']`` with one rule drawn uniformly from ``modes``.

    * ``'time'``: the events in one interval ``[s, s + r * D)`` with ``D = t_last - t_first``
      and ``s`` uniform in ``[t_first, t_last - r * D]``, ``r`` from ``time_ratio``.
    * ``'area'``: the events inside one rectangle (``x0 <= x < x0 + w`` and ``y0 <= y <
      y0 + h``) of ``w = round(W * sqrt(a))``, ``h = round(H * sqrt(a))`` placed uniformly
      inside the sensor, i.e. the box covers the fraction ``a`` (from ``area_ratio``) of the
      sensor area (tonic's ``area_ratio`` scales each side instead).
    * ``'random'``: ``round(q * N)`` events chosen uniformly, ``q`` from ``drop_ratio``.
    * ``'identity'``: nothing.

    A ratio is a float or a ``(low, high)`` range sampled uniformly per sample. A draw that
    would remove every event keeps the sample unchanged (an empty recording cannot be
    framed). The time order of the kept events is unchanged.

    Args:
        modes (sequence of str): the rules to draw from.
        time_ratio (float | tuple): fraction of the duration dropped by ``'time'``.
        area_ratio (float | tuple): fraction of the sensor area dropped by ``'area'``.
        drop_ratio (float | tuple): fraction of the events dropped by ``'random'``.
    """

    MODES = ('identity', 'time', 'area', 'random')

    def __init__(self,
                 modes: Sequence[str] = MODES,
                 time_ratio: Ratio = (0.1, 0.3),
                 area_ratio: Ratio = (0.05, 0.3),
                 drop_ratio: Ratio = (0.1, 0.3)):
        modes = tuple(modes)
        bad = [m for m in modes if m not in self.MODES]
        if not modes or bad:
            raise ValueError(f'EventDrop: modes must be a non-empty subset of {self.MODES}, '
                             f'got {modes!r}')
        self.modes = modes
        self.time_ratio = _ratio_range(time_ratio, 'time_ratio')
        self.area_ratio = _ratio_range(area_ratio, 'area_ratio')
        self.drop_ratio = _ratio_range(drop_ratio, 'drop_ratio')

    def drop_mask(self, mode: str, events: np.ndarray, results: dict) -> np.ndarray:
        """Boolean mask of the events the rule ``mode`` removes."""
        if mode == 'time':
            t = events['t'].astype(np.int64)
            t_first, t_last = int(t.min()), int(t.max())
            length = _draw(self.time_ratio) * (t_last - t_first)
            start = t_first + np.random.uniform(0, (t_last - t_first) - length) \
                if t_last - t_first > length else t_first
            return (t >= start) & (t < start + length)
        if mode == 'area':
            height, width = sensor_hw(results)
            side = np.sqrt(_draw(self.area_ratio))
            box_h, box_w = int(round(height * side)), int(round(width * side))
            y0 = np.random.randint(height - box_h + 1)
            x0 = np.random.randint(width - box_w + 1)
            x, y = events['x'], events['y']
            return (x >= x0) & (x < x0 + box_w) & (y >= y0) & (y < y0 + box_h)
        mask = np.zeros(len(events), bool)
        if mode == 'random':
            mask[np.random.choice(len(events), int(round(_draw(self.drop_ratio) * len(events))),
                                  replace=False)] = True
        return mask

    def transform(self, results: dict) -> dict:
        """Drop events of one sample (or keep them all, see the class docstring)."""
        events = results.get('events')
        if events is None:
            raise EventFramesError(f'{source_of(results)}: EventDrop needs "events" (put it '
                                   f'before EventsToFrames)')
        mode = self.modes[np.random.randint(len(self.modes))]
        results['event_drop'] = mode
        if len(events) == 0 or mode == 'identity':
            return results
        drop = self.drop_mask(mode, events, results)
        if drop.all():
            results['event_drop'] = 'identity'
            return results
        results['events'] = events[~drop]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modes={self.modes}, time_ratio={self.time_ratio}, '
                f'area_ratio={self.area_ratio}, drop_ratio={self.drop_ratio})')
