"""Box files of the Prophesee automotive releases (``<recording>_bbox.npy``).

A box file is a ``.npy`` structured array, one row per box and time, sorted by time:
``ts`` (µs, the time the box is labelled at), ``x``, ``y`` (top-left corner, pixels),
``w``, ``h`` (size, pixels), ``class_id``, ``confidence`` and ``track_id``.
:data:`BBOX_DTYPE` is the dtype of the Gen1 release files. The toolbox's newer dtype (1Mpx;
``src/io/box_loading.py``) names the time ``t`` and the confidence ``class_confidence``, with
``class_id`` and ``track_id`` as uint32; such files are read too and converted to
:data:`BBOX_DTYPE`.

Boxes outside the sensor: the release files contain boxes that lie partly or wholly outside
the frame (RVT's preprocessing says so for Gen1 and 1Mpx and crops them to the field of view).
:func:`read_prophesee_boxes` raises by default (``outside='error'``); ``outside='clip'``
clips the box edges to ``[0, W] x [0, H]`` and drops the boxes left without area (RVT clips to
``W - 1`` / ``H - 1``; here a box edge at ``W`` is the sensor's right border, so a box that
ends on it is inside). Real release files need ``outside='clip'``.
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from .layout import EventFileError

#: The box dtype of the Gen1 release files.
BBOX_DTYPE = np.dtype([('ts', '<u8'), ('x', '<f4'), ('y', '<f4'), ('w', '<f4'), ('h', '<f4'),
                       ('class_id', 'u1'), ('confidence', '<f4'), ('track_id', '<u4')])
#: Accepted field names per :data:`BBOX_DTYPE` field (the toolbox's newer names second).
BBOX_FIELD_ALIASES = {'ts': ('ts', 't'), 'confidence': ('confidence', 'class_confidence')}
#: What :func:`read_prophesee_boxes` does with boxes outside the sensor.
OUTSIDE_POLICIES = ('error', 'clip')


def check_prophesee_boxes(boxes: np.ndarray, source: str,
                          sensor_size: Optional[Sequence[int]] = None,
                          outside: str = 'error') -> np.ndarray:
    """Validate a box array and return it as :data:`BBOX_DTYPE`.

    Args:
        boxes (numpy.ndarray): a 1-D structured array with the fields of :data:`BBOX_DTYPE`
            (``t`` for ``ts`` and ``class_confidence`` for ``confidence`` are accepted).
        source (str): the file or origin, named in errors.
        sensor_size (tuple[int, int], optional): ``(W, H)``; boxes must lie on it.
        outside (str): ``'error'`` (default) or ``'clip'`` (module docstring).

    Returns:
        numpy.ndarray: a new :data:`BBOX_DTYPE` array (with ``'clip'``, the clipped boxes
        without those left empty).

    Raises:
        EventFileError: a field is missing, times are negative or not sorted, a size is
            negative, a value is not finite, a class id does not fit uint8, or (``'error'``)
            a box lies outside the sensor.
    """
    if outside not in OUTSIDE_POLICIES:
        raise ValueError(f'outside must be one of {OUTSIDE_POLICIES}, got {outside!r}')
    if not isinstance(boxes, np.ndarray) or boxes.dtype.names is None or boxes.ndim != 1:
        raise EventFileError(f'{source}: expected a 1-D structured box array with fields '
                             f'{list(BBOX_DTYPE.names)}; got {type(boxes).__name__} of dtype '
                             f'{getattr(boxes, "dtype", None)} and shape '
                             f'{getattr(boxes, "shape", None)}')
    names = boxes.dtype.names
    columns, missing = {}, []
    for field in BBOX_DTYPE.names:
        found = [n for n in BBOX_FIELD_ALIASES.get(field, (field, )) if n in names]
        if found:
            columns[field] = boxes[found[0]]
        else:
            missing.append('/'.join(BBOX_FIELD_ALIASES.get(field, (field, ))))
    if missing:
        raise EventFileError(f'{source}: the box array has fields {list(names)}, missing '
                             f'{missing}; expected the fields of {list(BBOX_DTYPE.names)}')
    for field, column in columns.items():
        if column.dtype.kind not in 'iuf':
            raise EventFileError(f'{source}: box field {field} has dtype {column.dtype}, '
                                 f'expected numbers')
        if column.dtype.kind == 'f' and not np.all(np.isfinite(column)):
            raise EventFileError(f'{source}: box field {field} holds non-finite values')
    ts = columns['ts']
    if ts.shape[0]:
        if ts.dtype.kind == 'f' and np.any(ts != np.round(ts)):
            raise EventFileError(f'{source}: box times are not whole microseconds')
        if np.any(ts < 0):
            raise EventFileError(f'{source}: negative box time {ts.min()}; expected µs >= 0')
        down = np.flatnonzero(np.diff(ts.astype(np.int64)) < 0)
        if down.size:
            i = int(down[0])
            raise EventFileError(f'{source}: box times are not sorted: box {i + 1} at '
                                 f'{int(ts[i + 1])} µs follows box {i} at {int(ts[i])} µs; '
                                 f'expected boxes in time order')
        for field in ('w', 'h'):
            if np.any(columns[field] < 0):
                i = int(np.flatnonzero(columns[field] < 0)[0])
                raise EventFileError(f'{source}: box {i} has a negative {field} '
                                     f'{float(columns[field][i])}')
        for field, high in (('class_id', 255), ('track_id', 2**32 - 1)):
            column = columns[field]
            if np.any((column < 0) | (column > high)) or (column.dtype.kind == 'f' and np.any(
                    column != np.round(column))):
                raise EventFileError(f'{source}: box field {field} holds values outside the '
                                     f'whole numbers 0..{high}')
    out = np.empty(boxes.shape[0], BBOX_DTYPE)
    for field, column in columns.items():
        out[field] = column
    if sensor_size is not None:
        out = _inside(out, sensor_size, source, outside)
    return out


def _inside(boxes: np.ndarray, sensor_size: Sequence[int], source: str,
            outside: str) -> np.ndarray:
    width, height = float(sensor_size[0]), float(sensor_size[1])
    x1, y1 = boxes['x'].astype(np.float64), boxes['y'].astype(np.float64)
    x2, y2 = x1 + boxes['w'], y1 + boxes['h']
    bad = (x1 < 0) | (y1 < 0) | (x2 > width) | (y2 > height)
    if not bad.any():
        return boxes
    if outside == 'error':
        i = int(np.flatnonzero(bad)[0])
        raise EventFileError(
            f'{source}: {int(bad.sum())} of {boxes.shape[0]} boxes lie outside the sensor '
            f'(W, H) = ({sensor_size[0]}, {sensor_size[1]}), the first at {int(boxes["ts"][i])} '
            f'µs: x {x1[i]:g}, y {y1[i]:g}, w {float(boxes["w"][i]):g}, h '
            f'{float(boxes["h"][i]):g}; expected 0 <= x, 0 <= y, x + w <= W, y + h <= H '
            f'(outside="clip" clips them, as real release files need)')
    cx1, cy1 = np.clip(x1, 0, width), np.clip(y1, 0, height)
    cx2, cy2 = np.clip(x2, 0, width), np.clip(y2, 0, height)
    out = boxes.copy()
    out['x'], out['y'], out['w'], out['h'] = cx1, cy1, cx2 - cx1, cy2 - cy1
    return out[(out['w'] > 0) & (out['h'] > 0)]


def read_prophesee_boxes(path: str, sensor_size: Optional[Sequence[int]] = None,
                         outside: str = 'error') -> np.ndarray:
    """Read and validate a Prophesee box file (``*_bbox.npy``).

    Args:
        path (str): the ``.npy`` file.
        sensor_size (tuple[int, int], optional): ``(W, H)``; boxes must lie on it.
        outside (str): ``'error'`` or ``'clip'`` for boxes outside the sensor (module
            docstring).

    Returns:
        numpy.ndarray: boxes of :data:`BBOX_DTYPE`, sorted by ``ts``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        EventFileError: an unreadable file or any fault :func:`check_prophesee_boxes` names;
            the message names the file.
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'box file {path} does not exist')
    try:
        boxes = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise EventFileError(f'{path}: unreadable box file ({exc}); expected a .npy '
                             f'structured array') from exc
    return check_prophesee_boxes(boxes, path, sensor_size=sensor_size, outside=outside)


def write_prophesee_boxes(path: str, boxes: np.ndarray) -> str:
    """Write boxes as a ``.npy`` file of :data:`BBOX_DTYPE` (validated first).

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    if not path.endswith('.npy'):
        raise ValueError(f'cannot write boxes to {path}: expected the extension .npy')
    np.save(path, check_prophesee_boxes(boxes, path))
    return path
