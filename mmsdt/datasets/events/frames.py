"""Events to frames: :class:`EventsToFrames` bins a recording into ``T`` count frames.

The four slicing rules are tonic's ``ToFrame`` rules with ``overlap=0`` (reference
``../shared/reference/dvs.md`` section 5.4), written from their description; for the same
events and the same rule the counts are tonic's:

* ``num_bins=T`` (tonic ``n_time_bins``): ``window = (t_last - t_first) // T`` µs (integer
  division); bin ``k`` holds the events with ``t_first + k * window <= t < t_first +
  (k + 1) * window``. Events at or after ``t_first + T * window`` (always the last event, and
  the remainder of the integer division) fall in no bin, as in tonic. ``include_tail=True``
  puts them into the last bin instead (then no event is lost; not tonic's counts).
* ``time_window=w`` µs (tonic ``time_window``): windows ``[t_first + k * w, t_first +
  (k + 1) * w)``; their number is ``floor((duration - w) / w) + 1`` (``ceil`` with
  ``include_incomplete=True``), at least 1, so ``T`` depends on the recording.
* ``event_bins=T`` (tonic ``n_event_bins``): ``n = N // T`` events per bin, bin ``k`` holds
  events ``k * n .. (k + 1) * n - 1`` in time order; the last ``N - T * n`` events fall in no
  bin (``include_tail=True`` puts them into the last bin).
* ``event_count=n`` (tonic ``event_count``): consecutive groups of ``n`` events; their number
  is ``floor((N - n) / n) + 1`` (``ceil`` with ``include_incomplete=True``), so ``T`` depends
  on the recording.

Channels follow tonic's polarity index: channel 0 counts OFF events (``p`` False or ``<= 0``),
channel 1 ON events (``p`` True or ``> 0``); ``polarities=1`` merges both into one channel.
Where tonic returns empty frames (an empty recording, a recording shorter than ``T`` µs for
``num_bins``, fewer than ``T`` events for ``event_bins``), this transform raises
:class:`EventFramesError` naming the recording, since such frames would train on nothing
without a word.

``align='window'`` (with ``num_bins``) bins a fixed time window instead of the span of its
events: ``results['event_window'] = (t_start, t_end)`` µs, set by
:class:`~mmsdt.datasets.events.event_window.LoadEventWindow`, is cut into ``T`` bins of equal
duration ``D / T`` (``D = t_end - t_start``), bin ``k`` holding the events with
``t_start + k * D / T < t <= t_start + (k + 1) * D / T`` (exact integer arithmetic; the window
is open at its start and closed at its end like the slice). Frame 0 is the oldest. A window
without events is valid there and gives all-zero frames (an event camera that saw nothing).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .layout import check_in_sensor

VALUE_MODES = ('count', 'binary', 'clamp')
_RULES = ('num_bins', 'time_window', 'event_bins', 'event_count')


class EventFramesError(ValueError):
    """A recording that cannot be turned into the requested frames; the message names it."""


def source_of(results: dict) -> str:
    """The file or folder a sample comes from, for error messages."""
    for key in ('events_path', 'frame_dir', 'img_path'):
        if results.get(key) is not None:
            return str(results[key])
    return '<events without events_path>'


def sensor_hw(results: dict, default: Optional[Sequence[int]] = None) -> Tuple[int, int]:
    """``(H, W)`` from ``results['sensor_size']`` = ``(W, H)`` (tonic's order without P), or
    from ``default`` when the results have none; both present and different is an error."""
    size = results.get('sensor_size')
    if size is None:
        size = default
    elif default is not None and tuple(size)[:2] != tuple(default)[:2]:
        raise EventFramesError(f'{source_of(results)}: the data set says sensor_size (W, H) = '
                               f'{tuple(size)[:2]} but the transform was given '
                               f'{tuple(default)[:2]}')
    if size is None:
        raise EventFramesError(f'{source_of(results)}: no sensor_size (W, H) in the results '
                               f'(the data set metainfo) and none given to the transform')
    width, height = int(size[0]), int(size[1])
    return height, width


def check_events(events: np.ndarray, height: int, width: int, source: str) -> np.ndarray:
    """Check the fields and the sensor range; return the events sorted by ``t`` (stable).

    Raises:
        EventFramesError: fields missing or an empty recording.
        EventFileError: events outside the sensor (:func:`~.layout.check_in_sensor` names the
            largest x and y).
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None or \
            not {'x', 'y', 't', 'p'} <= set(events.dtype.names):
        raise EventFramesError(f'{source}: events must be a structured array with fields x, y, '
                               f't, p, got {getattr(events, "dtype", type(events))}')
    if events.size == 0:
        raise EventFramesError(f'{source}: the recording holds no events')
    check_in_sensor(events, (width, height), source)
    t = events['t']
    if np.any(t[1:] < t[:-1]):
        events = events[np.argsort(t, kind='stable')]
    return events


@TRANSFORMS.register_module()
class EventsToFrames(BaseTransform):
    """Bin ``results['events']`` into float32 frames ``(T, P, H, W)`` in ``results['img']``.

    Exactly one of ``num_bins``, ``time_window``, ``event_bins``, ``event_count`` selects the
    slicing rule (module docstring; tonic's ``ToFrame`` counts). The sensor size ``(W, H)``
    comes from ``results['sensor_size']`` (the data set metainfo) or ``sensor_size``.

    Adds ``img`` (float32 ``(T, P, H, W)``), ``img_shape`` ``(H, W)``, ``ori_shape`` and
    ``num_frames`` ``T``; keeps ``events``.

    Args:
        num_bins (int, optional): ``T`` bins of equal duration.
        time_window (int, optional): bin length in µs (``T`` depends on the recording).
        event_bins (int, optional): ``T`` bins of equal event count.
        event_count (int, optional): events per bin (``T`` depends on the recording).
        polarities (int): 2 (channel 0 OFF, 1 ON) or 1 (merged).
        value (str): ``'count'`` (events per pixel), ``'binary'`` (1 where any event) or
            ``'clamp'`` (counts clipped at ``clamp_max``).
        clamp_max (float, optional): upper bound for ``value='clamp'``.
        include_tail (bool): ``num_bins`` / ``event_bins``: put the events beyond ``T`` full
            bins into the last bin instead of dropping them as tonic does.
        include_incomplete (bool): ``time_window`` / ``event_count``: keep a last, shorter bin.
        sensor_size (tuple, optional): ``(W, H)`` when the results carry none.
        align (str): ``'events'`` (tonic's rules, relative to the first event) or
            ``'window'`` (``num_bins`` only: ``T`` bins over ``results['event_window']``,
            module docstring; an empty window gives zero frames).
    """

    def __init__(self,
                 num_bins: Optional[int] = None,
                 time_window: Optional[int] = None,
                 event_bins: Optional[int] = None,
                 event_count: Optional[int] = None,
                 polarities: int = 2,
                 value: str = 'count',
                 clamp_max: Optional[float] = None,
                 include_tail: bool = False,
                 include_incomplete: bool = False,
                 sensor_size: Optional[Sequence[int]] = None,
                 align: str = 'events'):
        given = {name: v for name, v in zip(_RULES, (num_bins, time_window, event_bins,
                                                     event_count)) if v is not None}
        if len(given) != 1:
            raise ValueError(f'EventsToFrames: give exactly one of {", ".join(_RULES)}, got '
                             f'{given or "none"}')
        (self.rule, self.size), = given.items()
        if not (isinstance(self.size, (int, np.integer)) and self.size > 0):
            raise ValueError(f'EventsToFrames: {self.rule} must be a positive integer, got '
                             f'{self.size!r}')
        if polarities not in (1, 2):
            raise ValueError(f'EventsToFrames: polarities must be 1 or 2, got {polarities!r}')
        if value not in VALUE_MODES:
            raise ValueError(f'EventsToFrames: value must be one of {VALUE_MODES}, got '
                             f'{value!r}')
        if value == 'clamp' and (clamp_max is None or clamp_max <= 0):
            raise ValueError(f'EventsToFrames: value="clamp" needs clamp_max > 0, got '
                             f'{clamp_max!r}')
        if include_tail and self.rule not in ('num_bins', 'event_bins'):
            raise ValueError('EventsToFrames: include_tail applies to num_bins / event_bins')
        if include_incomplete and self.rule not in ('time_window', 'event_count'):
            raise ValueError('EventsToFrames: include_incomplete applies to time_window / '
                             'event_count')
        if align not in ('events', 'window'):
            raise ValueError(f'EventsToFrames: align must be "events" or "window", got '
                             f'{align!r}')
        if align == 'window' and (self.rule != 'num_bins' or include_tail):
            raise ValueError('EventsToFrames: align="window" needs num_bins (without '
                             'include_tail: every event of the window lies in a bin)')
        self.align = align
        self.polarities = polarities
        self.value = value
        self.clamp_max = clamp_max
        self.include_tail = include_tail
        self.include_incomplete = include_incomplete
        self.sensor_size = tuple(sensor_size) if sensor_size is not None else None

    def bin_index(self, t: np.ndarray, source: str) -> np.ndarray:
        """The frame index of every event (``-1``: in no frame) and the number of frames."""
        n, size = len(t), int(self.size)
        if self.rule == 'num_bins':
            duration = int(t[-1] - t[0])
            window = duration // size
            if window == 0:
                raise EventFramesError(
                    f'{source}: the recording spans {duration} µs, shorter than num_bins='
                    f'{size} bins of at least 1 µs (clip shorter than T)')
            index = (t - t[0]) // window
            last = size - 1
        elif self.rule == 'event_bins':
            per_bin = n // size
            if per_bin == 0:
                raise EventFramesError(f'{source}: {n} events, fewer than event_bins={size} '
                                       f'(clip shorter than T)')
            index = np.arange(n) // per_bin
            last = size - 1
        elif self.rule == 'time_window':
            duration = int(t[-1] - t[0])
            frames = (duration - size) / size + 1
            frames = int(np.ceil(frames) if self.include_incomplete else np.floor(frames))
            index = (t - t[0]) // size
            last = max(frames, 1) - 1
        else:  # event_count
            per_bin = min(size, n)
            frames = (n - per_bin) / size + 1
            frames = int(np.ceil(frames) if self.include_incomplete else np.floor(frames))
            index = np.arange(n) // size
            last = frames - 1
        index = index.astype(np.int64)
        if self.include_tail:
            index = np.minimum(index, last)
        index[index > last] = -1
        return index, last + 1

    def window_index(self, results: dict, height: int, width: int, source: str):
        """``align='window'``: the events, their bin over ``results['event_window']`` and
        ``T``; events outside the window are an error (the loader cut them)."""
        if results.get('event_window') is None:
            raise EventFramesError(f'{source}: align="window" needs results["event_window"] '
                                   f'= (t_start, t_end) µs (LoadEventWindow sets it)')
        t_start, t_end = (int(v) for v in results['event_window'])
        if t_end <= t_start:
            raise EventFramesError(f'{source}: event_window ({t_start}, {t_end}] µs is empty')
        events = results['events']
        if getattr(events, 'size', None) == 0:
            return events, np.zeros(0, np.int64), int(self.size)
        events = check_events(events, height, width, source)
        t = events['t'].astype(np.int64)
        if t[0] <= t_start or t[-1] > t_end:
            raise EventFramesError(f'{source}: events at {t[0]}..{t[-1]} µs lie outside the '
                                   f'event_window ({t_start}, {t_end}] µs')
        index = ((t - t_start) * int(self.size) - 1) // (t_end - t_start)
        return events, index, int(self.size)

    def transform(self, results: dict) -> dict:
        """Bin the events of one sample (see the class docstring)."""
        source = source_of(results)
        height, width = sensor_hw(results, self.sensor_size)
        if 'events' not in results:
            raise EventFramesError(f'{source}: no "events" in the results (load them first)')
        if self.align == 'window':
            events, index, frames = self.window_index(results, height, width, source)
        else:
            events = check_events(results['events'], height, width, source)
            index, frames = self.bin_index(events['t'].astype(np.int64), source)
        keep = index >= 0
        channel = (events['p'][keep] > 0).astype(np.int64) if self.polarities == 2 else 0
        flat = ((index[keep] * self.polarities + channel) * height
                + events['y'][keep].astype(np.int64)) * width + events['x'][keep].astype(np.int64)
        shape = (frames, self.polarities, height, width)
        img = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape).astype(np.float32)
        if self.value == 'binary':
            img = (img > 0).astype(np.float32)
        elif self.value == 'clamp':
            img = np.minimum(img, np.float32(self.clamp_max))
        results['img'] = img
        results['img_shape'] = (height, width)
        results['ori_shape'] = (height, width)
        results['num_frames'] = frames
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.rule}={self.size}, polarities='
                f'{self.polarities}, value={self.value!r}, clamp_max={self.clamp_max}, '
                f'include_tail={self.include_tail}, include_incomplete='
                f'{self.include_incomplete}, align={self.align!r})')
