"""The in-memory layout of event recordings.

Events are a numpy structured array of :data:`EVENT_DTYPE`: ``x`` and ``y`` (int16 pixel
column and row, origin at the top-left corner like an image), ``t`` (int64, microseconds) and
``p`` (bool, ``True`` = ON, a brightness increase). It is the layout of tonic's DVSGesture
events, so arrays loaded by tonic or other event libraries pass through :func:`as_events`
unchanged in meaning. Every reader in :mod:`.io` returns this layout.

A sensor size is ``(W, H)`` in pixels, like tonic's ``sensor_size`` without its polarity count.
"""
from typing import Optional, Sequence

import numpy as np

EVENT_DTYPE = np.dtype([('x', '<i2'), ('y', '<i2'), ('t', '<i8'), ('p', '?')])
"""x, y int16 pixel coordinates; t int64 microseconds; p bool (True = ON)."""

_FIELDS = ('x', 'y', 't', 'p')
_INT16_MAX = np.iinfo(np.int16).max


class EventFileError(ValueError):
    """An event recording or array that cannot be read as events.

    The message names the file (or the array's source) and what was expected there:
    a truncated or corrupt file, an unknown format, an empty recording, a missing field or
    events outside the sensor.
    """


def _source(source: Optional[str]) -> str:
    return str(source) if source is not None else '<array>'


def as_events(array: np.ndarray, source: Optional[str] = None) -> np.ndarray:
    """Validate an event array and return it as :data:`EVENT_DTYPE`, sorted by time.

    Args:
        array (numpy.ndarray): a 1-D structured array with fields ``x``, ``y``, ``t`` and
            ``p`` in any order (more fields are ignored). ``x``, ``y`` and ``t`` must have an
            integer type (``t`` in microseconds); ``p`` may be bool or an integer type
            holding 0/1 (0 = OFF) or -1/1 (-1 = OFF). tonic's arrays qualify as they are.
        source (str, optional): the file or origin, named in errors.

    Returns:
        numpy.ndarray: a new array of :data:`EVENT_DTYPE`, stably sorted by ``t`` (events with
        equal times keep their order). An empty input gives an empty array.

    Raises:
        EventFileError: a field is missing or has a non-integer type, a coordinate is negative
            or beyond int16, or a polarity value is not one of the accepted codes.
    """
    src = _source(source)
    if not isinstance(array, np.ndarray) or array.dtype.names is None:
        raise EventFileError(
            f'{src}: expected a structured numpy array with fields x, y, t, p; got '
            f'{type(array).__name__} with dtype {getattr(array, "dtype", None)}')
    missing = [f for f in _FIELDS if f not in array.dtype.names]
    if missing:
        raise EventFileError(f'{src}: event array has fields {list(array.dtype.names)}, '
                             f'missing {missing} (expected x, y, t, p)')
    if array.ndim != 1:
        raise EventFileError(f'{src}: expected a 1-D event array, got shape {array.shape}')
    for name in ('x', 'y', 't'):
        kind = array.dtype[name].kind
        if kind not in 'iu':
            hint = ' (timestamps in integer microseconds)' if name == 't' else ''
            raise EventFileError(f'{src}: field {name} has dtype {array.dtype[name]}, expected '
                                 f'an integer type{hint}')
    out = np.empty(array.shape[0], EVENT_DTYPE)
    if array.shape[0] == 0:
        return out
    for name in ('x', 'y'):
        values = array[name]
        low, high = int(values.min()), int(values.max())
        if low < 0 or high > _INT16_MAX:
            raise EventFileError(f'{src}: {name} ranges over [{low}, {high}], expected pixel '
                                 f'coordinates in [0, {_INT16_MAX}]')
        out[name] = values
    t = array['t']
    if t.dtype.kind == 'u' and int(t.max()) > np.iinfo(np.int64).max:
        raise EventFileError(f'{src}: timestamps exceed int64 microseconds')
    out['t'] = t
    out['p'] = _polarity(array['p'], src)
    if np.any(out['t'][1:] < out['t'][:-1]):
        out = out[np.argsort(out['t'], kind='stable')]
    return out


def _polarity(p: np.ndarray, src: str) -> np.ndarray:
    if p.dtype.kind == 'b':
        return p
    if p.dtype.kind not in 'iu':
        raise EventFileError(f'{src}: field p has dtype {p.dtype}, expected bool or an integer '
                             f'type holding 0/1 or -1/1')
    codes = np.unique(p)
    if np.all(np.isin(codes, (0, 1))) or np.all(np.isin(codes, (-1, 1))):
        return p > 0
    raise EventFileError(f'{src}: polarity values {codes[:8].tolist()} are neither 0/1 nor '
                         f'-1/1')


def check_in_sensor(events: np.ndarray, sensor_size: Sequence[int],
                    source: Optional[str] = None) -> np.ndarray:
    """Check that every event lies on a sensor of ``sensor_size = (W, H)`` pixels.

    Args:
        events (numpy.ndarray): events with fields ``x`` and ``y``.
        sensor_size (tuple[int, int]): ``(W, H)``; a third entry (tonic's polarity count) is
            ignored.
        source (str, optional): the file or origin, named in the error.

    Returns:
        numpy.ndarray: ``events`` unchanged, for chaining.

    Raises:
        EventFileError: some ``x >= W`` or ``y >= H`` (or a negative coordinate); the message
            names the source, the largest x and y found and the sensor size.
    """
    if len(sensor_size) < 2:
        raise ValueError(f'sensor_size must be (W, H), got {sensor_size!r}')
    width, height = int(sensor_size[0]), int(sensor_size[1])
    if events.shape[0] == 0:
        return events
    x_min, x_max = int(events['x'].min()), int(events['x'].max())
    y_min, y_max = int(events['y'].min()), int(events['y'].max())
    if x_min < 0 or y_min < 0 or x_max >= width or y_max >= height:
        outside = int(np.count_nonzero((events['x'] < 0) | (events['x'] >= width)
                                       | (events['y'] < 0) | (events['y'] >= height)))
        raise EventFileError(
            f'{_source(source)}: {outside} of {events.shape[0]} events lie outside the sensor '
            f'(W, H) = ({width}, {height}): largest x = {x_max}, largest y = {y_max} '
            f'(smallest x = {x_min}, y = {y_min}); expected 0 <= x < {width} and '
            f'0 <= y < {height}')
    return events
