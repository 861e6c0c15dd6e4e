"""Reading and writing event recordings in the formats of the public releases.

:func:`read_events` returns :data:`~.layout.EVENT_DTYPE` events for

========================  ====================================================================
format                    recognised by
========================  ====================================================================
AEDAT 4.0                 ``#!AER-DAT4.0`` (DV software; the CIFAR10-DVS release as converted
                          for tonic); decoded by the ``aedat`` package (MIT)
AEDAT 3.1                 ``#!AER-DAT3.1`` (cAER; the original DVS128 Gesture release)
AEDAT 2.0                 ``#!AER-DAT2.0`` (jAER; the original CIFAR10-DVS release, DVS128)
ATIS ``.bin``             the ``.bin`` extension (N-MNIST, N-Caltech101)
``.npy``                  numpy's magic: a structured array (x, y, t, p) or an ``(N, 4)`` array
                          of x, y, p, t in ms (the preprocessed DVS128 Gesture files)
``.npz``                  zip magic: key ``events`` (structured) or keys x, y, t, p
Prophesee ``.dat``        the ``.dat`` extension (CD events; Gen1 / 1Mpx ``*_td.dat``)
EVT 2.0 / 3.0 ``.raw``    the ``.raw`` extension and the header's ``% evt`` / ``% format`` line
========================  ====================================================================

The two small binary formats (AEDAT 2.0 / 3.1) and the ATIS format are decoded here from their
published specifications with numpy, the Prophesee formats in :mod:`.prophesee`.
:func:`write_events` writes ``.npz``, ATIS ``.bin``, AEDAT 4.0 (through iniVation's
``dv-processing``, Apache-2.0), Prophesee ``.dat`` and EVT 2.0 / 3.0 ``.raw``. Every fault is an
:class:`~.layout.EventFileError` naming the file and what was expected.
"""
import os
import os.path as osp
import zipfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .layout import EVENT_DTYPE, EventFileError, as_events, check_in_sensor
from .prophesee import (PROPHESEE_READERS, prophesee_format, write_evt2, write_evt3,
                        write_prophesee_dat)

AEDAT4_MAGIC = b'#!AER-DAT4.0'
AEDAT3_MAGIC = b'#!AER-DAT3.1'
AEDAT2_MAGIC = b'#!AER-DAT2.0'
NPY_MAGIC = b'\x93NUMPY'
ZIP_MAGIC = b'PK\x03\x04'

#: ATIS ``.bin``: a record with this y value marks a timestamp-counter overflow.
ATIS_OVERFLOW_Y = 240
#: ATIS ``.bin``: the timestamp field is 23 bits wide; each overflow record adds 2**23 µs.
ATIS_TIMESTAMP_BITS = 23
#: AEDAT 3.1: event packet header size (bytes) and the polarity event type.
AEDAT3_PACKET_HEADER = np.dtype([('type', '<i2'), ('source', '<i2'), ('size', '<i4'),
                                 ('ts_offset', '<i4'), ('ts_overflow', '<i4'),
                                 ('capacity', '<i4'), ('number', '<i4'), ('valid', '<i4')])
AEDAT3_POLARITY_EVENT = 1
#: The DVS128 sensor (AEDAT 2.0 address layout): 128 x 128 pixels.
DVS128_SIZE = 128


def detect_format(path: str) -> str:
    """Name the format of the file at ``path`` from its first bytes, else its extension.

    Returns:
        str: one of ``'aedat4'``, ``'aedat3'``, ``'aedat2'``, ``'npy'``, ``'npz'``,
        ``'atis_bin'``, ``'prophesee_dat'``, ``'evt2'``, ``'evt3'``.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        EventFileError: an AEDAT version without a reader (1.0, 3.0) or an unknown format.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'event file {path} does not exist')
    with open(path, 'rb') as f:
        head = f.read(16)
    for magic, name in ((AEDAT4_MAGIC, 'aedat4'), (AEDAT3_MAGIC, 'aedat3'),
                        (AEDAT2_MAGIC, 'aedat2'), (NPY_MAGIC, 'npy'), (ZIP_MAGIC, 'npz')):
        if head.startswith(magic):
            return name
    if head.startswith(b'#!AER-DAT'):
        version = head[9:12].decode('ascii', 'replace')
        raise EventFileError(f'{path}: AEDAT version {version} has no reader here; expected '
                             f'AEDAT 2.0, 3.1 or 4.0 (DV converts older files to AEDAT 4.0)')
    if path.lower().endswith('.bin'):
        return 'atis_bin'
    if path.lower().endswith(('.dat', '.raw')):
        return prophesee_format(path)
    raise EventFileError(
        f'{path}: unknown event file format (first bytes {head[:12]!r}); expected AEDAT 2.0, '
        f'3.1 or 4.0 (a "#!AER-DAT" header), an ATIS .bin file (N-MNIST, N-Caltech101), '
        f'.npy, .npz, a Prophesee .dat file or an EVT 2.0 / 3.0 .raw file')


def read_events(path: str, sensor_size: Optional[Sequence[int]] = None,
                allow_empty: bool = False) -> np.ndarray:
    """Read an event recording into :data:`~.layout.EVENT_DTYPE` events sorted by time.

    The reader is picked by :func:`detect_format`. Files that declare their sensor size
    (AEDAT 4.0 streams, DVS128 AEDAT 2.0, ``.npz`` written by :func:`write_events`) are
    checked against it.

    Args:
        path (str): the recording.
        sensor_size (tuple[int, int], optional): ``(W, H)``; when given, every event must lie
            on it (:func:`~.layout.check_in_sensor`).
        allow_empty (bool): return an empty array for a recording without events instead of
            raising. Defaults to False.

    Returns:
        numpy.ndarray: events of :data:`~.layout.EVENT_DTYPE`, stably sorted by ``t`` (µs).

    Raises:
        EventFileError: a truncated, corrupt, unknown or (unless ``allow_empty``) empty file,
            or events outside the sensor; the message names the file.
    """
    path = os.fspath(path)
    fmt = detect_format(path)
    events, declared = _READERS[fmt](path)
    events = as_events(events, source=path)
    if events.shape[0] == 0 and not allow_empty:
        raise EventFileError(f'{path}: the recording contains no events ({fmt} file); '
                             f'expected at least one event')
    if declared is not None:
        check_in_sensor(events, declared, source=f'{path} (sensor size declared by the file)')
    if sensor_size is not None:
        check_in_sensor(events, sensor_size, source=path)
    return events


# ---- AEDAT 4.0 ------------------------------------------------------------------------------

def _read_aedat4(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    try:
        import aedat
    except ImportError as exc:  # pragma: no cover - the events extra installs it
        raise ImportError(f'reading the AEDAT 4.0 file {path} needs the "aedat" package '
                          f'(pip install "mmsdt[events]")') from exc
    chunks: List[np.ndarray] = []
    try:
        decoder = aedat.Decoder(path)
        streams = {sid: s for sid, s in decoder.id_to_stream().items()
                   if s.get('type') == 'events'}
        if len(streams) != 1:
            raise EventFileError(f'{path}: expected one event stream in the AEDAT 4.0 file, '
                                 f'found {len(streams)} ({decoder.id_to_stream()})')
        (stream_id, stream), = streams.items()
        for packet in decoder:
            if packet['stream_id'] == stream_id and 'events' in packet:
                chunks.append(packet['events'])
    except EventFileError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit):
        raise
    except BaseException as exc:  # the Rust decoder raises RuntimeError or a PanicException
        raise EventFileError(f'{path}: truncated or corrupt AEDAT 4.0 file ({exc}); expected '
                             f'an IO header and complete, decodable packets') from exc
    size = (int(stream['width']), int(stream['height']))
    if not chunks:
        return np.zeros(0, EVENT_DTYPE), size
    raw = np.concatenate(chunks)
    return _fields(raw['x'], raw['y'], raw['t'], raw['p']), size


def _fields(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A structured array with the given columns in their own dtypes (checked later)."""
    out = np.empty(x.shape[0], [('x', x.dtype), ('y', y.dtype), ('t', t.dtype),
                                ('p', p.dtype)])
    out['x'], out['y'], out['t'], out['p'] = x, y, t, p
    return out


# ---- AEDAT 2.0 / 3.1 header -----------------------------------------------------------------

def _split_header(path: str, data: bytes, end_line: Optional[bytes]) -> Tuple[List[bytes], int]:
    """Header lines (each starts with ``#`` and ends with a newline) and the body offset.

    With ``end_line`` the header must close with that line (AEDAT 3.1's ``#!END-HEADER``).
    """
    lines, pos = [], 0
    while pos < len(data) and data[pos:pos + 1] == b'#':
        newline = data.find(b'\n', pos)
        if newline < 0:
            raise EventFileError(f'{path}: truncated header (a "#" line without a line end '
                                 f'at byte {pos})')
        line = data[pos:newline + 1].rstrip(b'\r\n')
        lines.append(line)
        pos = newline + 1
        if end_line is not None and line == end_line:
            return lines, pos
    if end_line is not None:
        raise EventFileError(f'{path}: the header has no {end_line.decode()} line; expected '
                             f'an AEDAT 3.1 header closed by it')
    return lines, pos


# ---- AEDAT 2.0 (jAER, DVS128) ---------------------------------------------------------------

def _read_aedat2(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """AEDAT 2.0: big-endian [int32 address, int32 timestamp µs] pairs after ``#`` lines.

    The address is read in the DVS128 layout that jAER's DVS128 class defines: bit 0 the
    polarity (0 = ON), bits 1-7 the x address, bits 8-14 the y address, bit 15 an external
    (sync) event. jAER shows raw x mirrored (127 - x) with the origin at the bottom left;
    here the origin is the top left, so x = 127 - raw x and y = 127 - raw y.
    """
    with open(path, 'rb') as f:
        data = f.read()
    lines, start = _split_header(path, data, None)
    chips = [ln for ln in lines if ln.lower().startswith(b'# aechip:')]
    if chips and not any(k in chips[0].lower() for k in (b'dvs128', b'tmpdiff128')):
        raise EventFileError(f'{path}: AEDAT 2.0 from {chips[0][9:].strip().decode()}; only '
                             f'the DVS128 address layout is read (convert the file to AEDAT '
                             f'4.0 with DV)')
    body = memoryview(data)[start:]
    if len(body) % 8:
        raise EventFileError(f'{path}: truncated AEDAT 2.0 body of {len(body)} bytes after a '
                             f'{start}-byte header; expected 8 bytes per event')
    words = np.frombuffer(body, '>u4').reshape(-1, 2)
    address, stamp = words[:, 0], words[:, 1]
    if np.any(address >> 16):
        bad = int(address[np.flatnonzero(address >> 16)[0]])
        raise EventFileError(f'{path}: address 0x{bad:08x} uses bits above 15, which the '
                             f'DVS128 layout does not have; expected a DVS128 recording')
    keep = (address & 0x8000) == 0  # external (sync) events carry no pixel
    address, stamp = address[keep], stamp[keep]
    raw_x = (address >> 1) & 0x7F
    raw_y = (address >> 8) & 0x7F
    t = _unwrap_uint32(stamp)
    return _fields((DVS128_SIZE - 1 - raw_x).astype(np.int16),
                   (DVS128_SIZE - 1 - raw_y).astype(np.int16), t,
                   (address & 1) == 0), (DVS128_SIZE, DVS128_SIZE)


def _unwrap_uint32(stamp: np.ndarray) -> np.ndarray:
    """32-bit microsecond counters to int64, adding 2**32 after each wrap-around."""
    t = stamp.astype(np.int64)
    if t.shape[0] > 1:
        wraps = np.concatenate([[0], np.cumsum(np.diff(t) < -(1 << 31))])
        t += wraps << 32
    return t


# ---- AEDAT 3.1 (cAER) -----------------------------------------------------------------------

def _read_aedat3(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """AEDAT 3.1: little-endian event packets after a header closed by ``#!END-HEADER``.

    Each packet is a 28-byte header (type, source, event size, timestamp offset, timestamp
    overflow, capacity, number, valid count) followed by ``number * size`` bytes of events.
    Polarity events (type 1, 8 bytes) are ``uint32 data, int32 timestamp``: bit 0 valid mark,
    bit 1 polarity (1 = ON), bits 2-16 y, bits 17-31 x (origin at the top left); the full
    timestamp is ``overflow << 31 | timestamp``. Other packet types are skipped; invalid events
    are dropped.
    """
    with open(path, 'rb') as f:
        data = f.read()
    _, pos = _split_header(path, data, b'#!END-HEADER')
    header_size = AEDAT3_PACKET_HEADER.itemsize
    chunks: List[np.ndarray] = []
    sources = set()
    while pos < len(data):
        if len(data) - pos < header_size:
            raise EventFileError(f'{path}: truncated AEDAT 3.1 packet header at byte {pos} '
                                 f'({len(data) - pos} of {header_size} bytes)')
        head = np.frombuffer(data, AEDAT3_PACKET_HEADER, count=1, offset=pos)[0]
        size, number = int(head['size']), int(head['number'])
        if size <= 0 or number < 0:
            raise EventFileError(f'{path}: corrupt AEDAT 3.1 packet header at byte {pos} '
                                 f'(event size {size}, event number {number})')
        pos += header_size
        if len(data) - pos < size * number:
            raise EventFileError(f'{path}: truncated AEDAT 3.1 packet at byte {pos}: '
                                 f'{len(data) - pos} bytes left, expected {number} events of '
                                 f'{size} bytes')
        if int(head['type']) == AEDAT3_POLARITY_EVENT:
            if size != 8:
                raise EventFileError(f'{path}: corrupt AEDAT 3.1 polarity packet at byte '
                                     f'{pos - header_size}: event size {size}, expected 8')
            sources.add(int(head['source']))
            words = np.frombuffer(data, '<u4', count=2 * number, offset=pos).reshape(-1, 2)
            word, stamp = words[:, 0], words[:, 1].view('<i4')
            valid = (word & 1) == 1
            word = word[valid]
            t = (np.int64(head['ts_overflow']) << 31) | stamp[valid].astype(np.int64)
            chunks.append(_fields(((word >> 17) & 0x7FFF).astype(np.int16),
                                  ((word >> 2) & 0x7FFF).astype(np.int16), t,
                                  ((word >> 1) & 1) == 1))
        pos += size * number
    if len(sources) > 1:
        raise EventFileError(f'{path}: polarity events from several sources {sorted(sources)}; '
                             f'expected one sensor per recording')
    if not chunks:
        return np.zeros(0, EVENT_DTYPE), None
    return np.concatenate(chunks), None


# ---- ATIS .bin (N-MNIST, N-Caltech101) ------------------------------------------------------

def _read_atis_bin(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """ATIS ``.bin``: 40 bits per event, big-endian bit order: bits 39-32 x, 31-24 y, bit 23
    polarity (1 = ON), bits 22-0 timestamp (µs). A record with y = 240 marks an overflow of
    the 23-bit timestamp counter and adds 2**23 µs to every later event."""
    raw = np.fromfile(path, np.uint8)
    if raw.shape[0] % 5:
        raise EventFileError(f'{path}: truncated ATIS .bin file of {raw.shape[0]} bytes; '
                             f'expected 5 bytes per event')
    rec = raw.reshape(-1, 5).astype(np.int64)
    y = rec[:, 1]
    overflow = y == ATIS_OVERFLOW_Y
    t = ((rec[:, 2] & 0x7F) << 16) | (rec[:, 3] << 8) | rec[:, 4]
    t += np.cumsum(overflow) << ATIS_TIMESTAMP_BITS
    keep = ~overflow
    return _fields(rec[keep, 0], y[keep], t[keep], (rec[keep, 2] >> 7) == 1), None


# ---- numpy files ----------------------------------------------------------------------------

def _read_npy(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise EventFileError(f'{path}: truncated or corrupt .npy file ({exc})') from exc
    if array.dtype.names is not None:
        return array, None
    if array.ndim == 2 and array.shape[1] == 4:
        return _from_xypt_ms(array, path), None
    raise EventFileError(f'{path}: .npy array of shape {array.shape} and dtype {array.dtype}; '
                         f'expected a structured array with fields x, y, t, p or an (N, 4) '
                         f'array of columns x, y, p, t (ms)')


def _from_xypt_ms(array: np.ndarray, path: str) -> np.ndarray:
    """The preprocessed DVS128 Gesture layout: columns x, y, p, t with t in milliseconds."""
    if array.dtype.kind not in 'iuf':
        raise EventFileError(f'{path}: (N, 4) array of dtype {array.dtype}; expected numbers')
    x, y, p = array[:, 0], array[:, 1], array[:, 2]
    if array.dtype.kind == 'f':
        whole = np.all(np.isfinite(array)) and all(np.all(c == np.rint(c)) for c in (x, y, p))
        if not whole:
            raise EventFileError(f'{path}: (N, 4) array with non-integer or non-finite x, y or '
                                 f'p values; expected columns x, y, p, t (ms)')
        t = np.rint(array[:, 3] * 1000.0).astype(np.int64)
    else:
        t = array[:, 3].astype(np.int64) * 1000
    if not np.all(np.isin(p, (0, 1))):
        raise EventFileError(f'{path}: column 2 holds values other than 0/1; expected columns '
                             f'x, y, p (0/1), t (ms)')
    return _fields(x.astype(np.int64), y.astype(np.int64), t, p == 1)


def _read_npz(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise EventFileError(f'{path}: truncated or corrupt .npz file ({exc})') from exc
    declared = None
    if 'sensor_size' in arrays:
        size = arrays['sensor_size']
        if size.shape != (2, ):
            raise EventFileError(f'{path}: sensor_size has shape {size.shape}, expected (2,)')
        declared = (int(size[0]), int(size[1]))
    if 'events' in arrays and arrays['events'].dtype.names is not None:
        return arrays['events'], declared
    if all(k in arrays for k in ('x', 'y', 't', 'p')):
        columns = [arrays[k] for k in ('x', 'y', 't', 'p')]
        if any(c.ndim != 1 or c.shape != columns[0].shape for c in columns):
            raise EventFileError(f'{path}: arrays x, y, t, p have shapes '
                                 f'{[c.shape for c in columns]}; expected equal 1-D shapes')
        return _fields(*columns), declared
    raise EventFileError(f'{path}: .npz keys {sorted(arrays)}; expected a structured array '
                         f'"events" or the arrays x, y, t, p')


_READERS: Dict[str, Callable[[str], Tuple[np.ndarray, Optional[Tuple[int, int]]]]] = {
    'aedat4': _read_aedat4,
    'aedat3': _read_aedat3,
    'aedat2': _read_aedat2,
    'atis_bin': _read_atis_bin,
    'npy': _read_npy,
    'npz': _read_npz,
    **PROPHESEE_READERS,
}

# ---- writers --------------------------------------------------------------------------------

WRITABLE_EXTENSIONS = ('.npz', '.bin', '.aedat4', '.dat', '.raw')
#: The ``.raw`` encodings :func:`write_events` writes.
RAW_WRITERS = {'evt3': write_evt3, 'evt2': write_evt2}


def write_events(path: str, events: np.ndarray, sensor_size: Sequence[int],
                 encoding: str = 'evt3') -> str:
    """Write events to ``path`` in the format its extension names.

    ``.npz``: the :data:`~.layout.EVENT_DTYPE` array under ``events`` and ``sensor_size``
    (compressed). ``.bin``: the ATIS format of N-MNIST (x and y below 256 and y below 240;
    overflow records are inserted every 2**23 µs). ``.aedat4``: AEDAT 4.0 with one event stream
    of the given resolution, written by ``dv-processing``. ``.dat``: Prophesee CD events in the
    Gen1 layout; ``.raw``: an EVT 3.0 (or, with ``encoding='evt2'``, EVT 2.0) stream
    (:mod:`.prophesee`). Each reads back through :func:`read_events` to the same array.

    Args:
        path (str): the file to write; its folder must exist.
        events (numpy.ndarray): a structured array accepted by :func:`~.layout.as_events`;
            ``t`` must be non-negative.
        sensor_size (tuple[int, int]): ``(W, H)``; every event must lie on it.
        encoding (str): the ``.raw`` encoding, ``'evt3'`` or ``'evt2'``.

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    ext = osp.splitext(path)[1].lower()
    if ext not in WRITABLE_EXTENSIONS:
        raise ValueError(f'cannot write events to {path}: expected one of the extensions '
                         f'{WRITABLE_EXTENSIONS}')
    if ext == '.dat':
        return write_prophesee_dat(path, events, sensor_size)
    if ext == '.raw':
        if encoding not in RAW_WRITERS:
            raise ValueError(f'cannot write {path}: encoding {encoding!r}, expected one of '
                             f'{sorted(RAW_WRITERS)}')
        return RAW_WRITERS[encoding](path, events, sensor_size)
    events = check_in_sensor(as_events(events, source=path), sensor_size, source=path)
    if events.shape[0] and int(events['t'][0]) < 0:
        raise EventFileError(f'{path}: negative timestamp {int(events["t"][0])}; expected '
                             f't >= 0 µs')
    width, height = int(sensor_size[0]), int(sensor_size[1])
    if ext == '.npz':
        np.savez_compressed(path, events=events, sensor_size=np.array([width, height]))
    elif ext == '.bin':
        _write_atis_bin(path, events, width, height)
    else:
        _write_aedat4(path, events, width, height)
    return path


def _write_atis_bin(path: str, events: np.ndarray, width: int, height: int) -> None:
    if width > 256 or height > ATIS_OVERFLOW_Y:
        raise ValueError(f'cannot write {path}: the ATIS .bin format holds x < 256 and '
                         f'y < {ATIS_OVERFLOW_Y}, sensor size is ({width}, {height})')
    t = events['t']
    period = np.int64(1) << ATIS_TIMESTAMP_BITS
    rec = np.zeros((events.shape[0], 5), np.uint8)
    stamp = t % period
    rec[:, 0] = events['x']
    rec[:, 1] = events['y']
    rec[:, 2] = (events['p'].astype(np.uint8) << 7) | (stamp >> 16).astype(np.uint8)
    rec[:, 3] = (stamp >> 8) & 0xFF
    rec[:, 4] = stamp & 0xFF
    n_overflows = int(t[-1] // period) if t.shape[0] else 0
    if n_overflows:
        # overflow m precedes the first event of period m
        where = np.searchsorted(t // period, np.arange(1, n_overflows + 1), side='left')
        marker = np.zeros((n_overflows, 5), np.uint8)
        marker[:, 1] = ATIS_OVERFLOW_Y
        rec = np.insert(rec, where, marker, axis=0)
    rec.tofile(path)


def _write_aedat4(path: str, events: np.ndarray, width: int, height: int) -> None:
    try:
        import dv_processing as dv
    except ImportError as exc:  # pragma: no cover - the events extra installs it
        raise ImportError(f'writing the AEDAT 4.0 file {path} needs the "dv-processing" '
                          f'package (pip install "mmsdt[events]")') from exc
    store = dv.EventStore()
    push = store.push_back
    # dv-processing takes events one by one (no array constructor); ~0.4 µs per event
    for t, x, y, p in zip(events['t'].tolist(), events['x'].tolist(), events['y'].tolist(),
                          events['p'].tolist()):
        push(t, x, y, p)
    config = dv.io.MonoCameraWriter.EventOnlyConfig('mmsdt', (width, height))
    writer = dv.io.MonoCameraWriter(path, config)
    writer.writeEvents(store)
    del writer  # closing the writer writes the file's data table
