"""Prophesee event files: ``.dat`` CD events and EVT 2.0 / EVT 3.0 ``.raw`` streams.

Decoded with numpy from the published format descriptions (Prophesee's "DAT File Format",
"RAW File Format", "EVT 2.0 Format" and "EVT 3.0 Format" pages; the automotive data set
toolbox for the Gen1 ``.dat`` layout). Every decoder is vectorised and works through the file
in chunks, so recordings of 10^7-10^8 events are read without a Python loop per event.

**Header** (both kinds): ASCII lines ``% <keyword> <value>\\n``; a ``% end`` line closes it,
else the first line not starting with ``% `` does. The sensor size comes from ``% Width`` /
``% Height`` (``.dat``), ``% format EVTn;height=H;width=W`` or ``% geometry WxH`` (``.raw``);
files without these lines declare no size.

**.dat** (Gen1 ``*_td.dat``, 1Mpx ``*_td.dat``): after the header, one byte event type (0 =
Event2D as in the automotive releases, 12 = EventCD as Metavision writes it) and one byte
event size (8); then little-endian 8-byte records ``uint32 t`` (µs) and ``uint32`` with
bits 0-13 ``x``, 14-27 ``y`` and bit 28 the polarity (1 = ON). A file without header lines
is read as Event2D records from byte 0 (as the toolbox does). The 32-bit time stamp wraps
every 2^32 µs (71.6 min): a backward jump of more than 2^31 µs adds 2^32 to the rest of the
file (the toolbox reads recordings shorter than one period and has no rule; the automotive
recordings are 60 s long). Any other decrease is a corrupt file.

**EVT 2.0** ``.raw``: little-endian 32-bit words, type in bits 28-31. CD_OFF (0) / CD_ON (1):
bits 0-10 ``y``, 11-21 ``x``, 22-27 the 6 least significant bits of the time; EVT_TIME_HIGH
(8): bits 0-27 the time's upper 28 bits (time = high << 6 | low 6 bits); EXT_TRIGGER (10),
IMU (13, OpenEB), OTHERS (14) and CONTINUED (15) carry no CD event and are skipped. A backward
jump of the time high of more than half its range is a wrap of the 34-bit time (2^34 µs).

**EVT 3.0** ``.raw``: little-endian 16-bit words, type in bits 12-15 and a stateful decoder:
EVT_ADDR_Y (0: y in bits 0-10), EVT_ADDR_X (2: one event, x in bits 0-10, polarity bit 11),
VECT_BASE_X (3: base x and polarity for the vectors), VECT_12 (4) / VECT_8 (5: a 12 / 8-bit
mask of events at ``base + k``; the base then moves on by 12 / 8), EVT_TIME_LOW (6) and
EVT_TIME_HIGH (8: the lower / upper 12 bits of a 24-bit µs time; a new time high clears the
time low, as OpenEB's decoder does), CONTINUED_4 (7), EXT_TRIGGER (10), IMU (13, OpenEB),
OTHERS (14) and CONTINUED_12 (15) are skipped; types 1, 9, 11 and 12 are unknown and an error.
A time high that drops by at least half its range (2048) is a wrap of the 24-bit time
(2^24 µs), OpenEB's rule.

For both ``.raw`` encodings decoding starts at the first EVT_TIME_HIGH word (OpenEB skips the
words before it: their time is unknown) and keeps the camera's time base (no shift of the first
time high to 0). Big-endian streams and EVT 2.1 / 4.0 are not read. Events whose time decreases
after unwrapping, an event word before any ADDR_Y, or a vector word without a preceding
VECT_BASE_X are errors (OpenEB drops such words with a warning); events outside the declared
geometry are an error in :func:`~.io.read_events` (OpenEB drops rows ``y >= height``).

:func:`open_windowed` serves the events of time windows without decoding a ``.dat`` recording
per window (a binary search over its memory-mapped time column); ``.raw`` recordings are
decoded once when opened.
"""
import bisect
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .layout import EVENT_DTYPE, EventFileError, as_events, check_in_sensor

#: Longest header line read (bytes); a longer ``% `` line is an error.
MAX_HEADER_LINE = 1 << 16
#: Words (records) decoded per chunk.
CHUNK = 1 << 20

#: ``.dat``: the record size and the CD event types (0 Event2D, 12 EventCD).
DAT_EVENT_SIZE = 8
DAT_CD_TYPES = (0, 12)
DAT_RECORD = np.dtype([('t', '<u4'), ('w', '<u4')])
DAT_MAX_COORD = (1 << 14) - 1
_WRAP_32 = np.int64(1) << 32

#: EVT 2.0 word types.
EVT2_CD_OFF, EVT2_CD_ON, EVT2_TIME_HIGH = 0x0, 0x1, 0x8
EVT2_SKIPPED = (0xA, 0xD, 0xE, 0xF)
#: EVT 3.0 word types.
EVT3_ADDR_Y, EVT3_ADDR_X, EVT3_VECT_BASE_X = 0x0, 0x2, 0x3
EVT3_VECT_12, EVT3_VECT_8, EVT3_TIME_LOW, EVT3_TIME_HIGH = 0x4, 0x5, 0x6, 0x8
EVT3_SKIPPED = (0x7, 0xA, 0xD, 0xE, 0xF)
EVT3_UNKNOWN = (0x1, 0x9, 0xB, 0xC)
#: Both ``.raw`` encodings address up to 2048 x 2048 pixels.
RAW_MAX_SIZE = 2048

Header = List[Tuple[str, str]]


# ---- header ---------------------------------------------------------------------------------

def read_prophesee_header(path: str) -> Tuple[Header, int]:
    """The ``% keyword value`` header lines of a ``.dat`` / ``.raw`` file and the offset of
    the bytes after them.

    Returns:
        tuple: ``([(keyword, value), ...], offset)``; keywords keep their case.
    """
    with open(path, 'rb') as f:
        return _parse_header(f, path)


def _parse_header(f, path: str) -> Tuple[Header, int]:
    entries: Header = []
    while True:
        pos = f.tell()
        line = f.readline(MAX_HEADER_LINE)
        if not line.startswith(b'% '):
            f.seek(pos)
            return entries, pos
        if not line.endswith(b'\n'):
            raise EventFileError(f'{path}: header line at byte {pos} has no line end within '
                                 f'{MAX_HEADER_LINE} bytes (truncated or not a Prophesee file)')
        text = line[2:].rstrip(b'\r\n').decode('latin-1')
        key, _, value = text.partition(' ')
        if key == 'end':
            return entries, f.tell()
        entries.append((key, value.strip()))


def _header_dict(entries: Header) -> dict:
    out: dict = {}
    for key, value in entries:
        out.setdefault(key.lower(), value)
    return out


def header_sensor_size(entries: Header, path: str) -> Optional[Tuple[int, int]]:
    """The sensor size ``(W, H)`` a header declares, or ``None``.

    Reads ``% Width`` / ``% Height``, ``% geometry WxH`` and the ``width=`` / ``height=``
    fields of ``% format``; sizes that disagree are an error naming the file.
    """
    head = _header_dict(entries)
    found = []
    try:
        if 'width' in head or 'height' in head:
            found.append(('Width/Height', (int(head['width']), int(head['height']))))
        if 'geometry' in head:
            width, height = head['geometry'].lower().split('x')
            found.append(('geometry', (int(width), int(height))))
        if 'format' in head:
            fields = dict(part.split('=', 1) for part in head['format'].split(';')[1:]
                          if '=' in part)
            if 'width' in fields or 'height' in fields:
                found.append(('format', (int(fields['width']), int(fields['height']))))
    except (KeyError, ValueError) as exc:
        raise EventFileError(f'{path}: unreadable sensor size in the header ({exc}); expected '
                             f'"% Width W" and "% Height H", "% geometry WxH" or '
                             f'"% format EVTn;height=H;width=W"') from exc
    sizes = {size for _, size in found}
    if len(sizes) > 1:
        raise EventFileError(f'{path}: the header declares different sensor sizes {found}')
    if not sizes:
        return None
    (size, ) = sizes
    if size[0] <= 0 or size[1] <= 0:
        raise EventFileError(f'{path}: the header declares the sensor size {size}')
    return size


def raw_encoding(entries: Header, path: str) -> str:
    """``'evt2'`` or ``'evt3'``, from a ``.raw`` header's ``% evt`` / ``% format`` lines."""
    head = _header_dict(entries)
    names = []
    if 'format' in head:
        name = head['format'].split(';')[0].strip().upper()
        names.append({'EVT2': 'evt2', 'EVT3': 'evt3'}.get(name, name))
    if 'evt' in head:
        version = head['evt'].strip()
        names.append({'2.0': 'evt2', '3.0': 'evt3'}.get(version, f'evt {version}'))
    if not names:
        raise EventFileError(f'{path}: the .raw header has no "% evt" or "% format" line naming '
                             f'the encoding; expected EVT 2.0 or EVT 3.0')
    if len(set(names)) > 1:
        raise EventFileError(f'{path}: the header names different encodings {names}')
    if names[0] not in ('evt2', 'evt3'):
        raise EventFileError(f'{path}: encoding {names[0]} has no reader here; expected '
                             f'EVT 2.0 or EVT 3.0')
    return names[0]


def prophesee_format(path: str) -> str:
    """``'prophesee_dat'`` for a ``.dat`` file, ``'evt2'`` / ``'evt3'`` for a ``.raw`` file
    (from its header)."""
    ext = osp.splitext(path)[1].lower()
    if ext == '.dat':
        return 'prophesee_dat'
    if ext == '.raw':
        return raw_encoding(read_prophesee_header(path)[0], path)
    raise EventFileError(f'{path}: not a Prophesee file; expected the extension .dat or .raw')


# ---- .dat -----------------------------------------------------------------------------------

def _dat_layout(path: str) -> Tuple[int, int, Optional[Tuple[int, int]]]:
    """Body offset, record count and declared sensor size of a ``.dat`` file (checked)."""
    with open(path, 'rb') as f:
        entries, pos = _parse_header(f, path)
        type_size = f.read(2)
    if entries:
        if len(type_size) < 2:
            raise EventFileError(f'{path}: truncated .dat file: the header is not followed by '
                                 f'the event type and event size bytes')
        ev_type, ev_size = type_size[0], type_size[1]
        body = pos + 2
    else:  # files without a header hold Event2D records from byte 0
        ev_type, ev_size, body = 0, DAT_EVENT_SIZE, 0
    if ev_size != DAT_EVENT_SIZE:
        raise EventFileError(f'{path}: event size byte {ev_size}, expected {DAT_EVENT_SIZE} '
                             f'(CD events: uint32 t, uint32 x/y/p)')
    if ev_type not in DAT_CD_TYPES:
        raise EventFileError(f'{path}: event type byte {ev_type}; only CD events are read '
                             f'(0 Event2D, 12 EventCD; 14 is EventExtTrigger)')
    nbytes = osp.getsize(path) - body
    if nbytes % DAT_EVENT_SIZE:
        raise EventFileError(f'{path}: truncated .dat file: {nbytes} bytes of events after a '
                             f'{body}-byte header, not a multiple of {DAT_EVENT_SIZE}')
    return body, nbytes // DAT_EVENT_SIZE, header_sensor_size(entries, path)


def _dat_records(path: str, body: int, count: int) -> np.ndarray:
    if count == 0:
        return np.zeros(0, DAT_RECORD)
    return np.memmap(path, DAT_RECORD, mode='r', offset=body, shape=(count, ))


def _dat_wraps(path: str, records: np.ndarray) -> np.ndarray:
    """Start indices of the 2^32 µs periods after the first (checked: no other decrease)."""
    t = records['t']
    wraps = []
    for start in range(0, t.shape[0], CHUNK):
        lo = max(start - 1, 0)
        chunk = t[lo:start + CHUNK].astype(np.int64)
        step = np.diff(chunk)
        if not step.size:
            continue
        back = np.flatnonzero(step < 0)
        if back.size:
            wrap = step[back] < -(np.int64(1) << 31)
            if not np.all(wrap):
                i = int(back[~wrap][0])
                raise EventFileError(
                    f'{path}: corrupt .dat file: the time stamp decreases from {int(chunk[i])} '
                    f'to {int(chunk[i + 1])} µs at event {lo + i + 1}; expected events in time '
                    f'order (a 32-bit wrap-around drops by more than 2^31 µs)')
            wraps.append(back + lo + 1)
    return np.concatenate(wraps) if wraps else np.zeros(0, np.int64)


def _decode_dat(records: np.ndarray, wraps: np.ndarray, first: int) -> np.ndarray:
    """Records ``first, first + 1, ...`` of a ``.dat`` file as :data:`EVENT_DTYPE` events."""
    out = np.empty(records.shape[0], EVENT_DTYPE)
    for start in range(0, records.shape[0], CHUNK):
        rec = np.asarray(records[start:start + CHUNK])
        word = rec['w']
        index = np.arange(first + start, first + start + rec.shape[0])
        period = np.searchsorted(wraps, index, side='right').astype(np.int64)
        part = out[start:start + rec.shape[0]]
        part['t'] = rec['t'].astype(np.int64) + (period << 32)
        part['x'] = word & DAT_MAX_COORD
        part['y'] = (word >> 14) & DAT_MAX_COORD
        part['p'] = (word >> 28) & 1
    return out


def read_prophesee_dat(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """Read a Prophesee ``.dat`` CD file (module docstring) into :data:`EVENT_DTYPE` events.

    Returns:
        tuple: the events in file order and the sensor size ``(W, H)`` the header declares (or
        ``None``).

    Raises:
        EventFileError: a wrong event type or size byte, a truncated record, a time stamp that
            decreases (other than a 32-bit wrap); the message names the file.
    """
    body, count, size = _dat_layout(path)
    records = _dat_records(path, body, count)
    return _decode_dat(records, _dat_wraps(path, records), 0), size


def _sensor_limits(path: str, sensor_size: Sequence[int], limit: int,
                   fmt: str) -> Tuple[int, int]:
    width, height = int(sensor_size[0]), int(sensor_size[1])
    if not (0 < width <= limit and 0 < height <= limit):
        raise ValueError(f'cannot write {path}: {fmt} addresses sensors up to {limit} x '
                         f'{limit} pixels, sensor size is ({width}, {height})')
    return width, height


def _checked_events(path: str, events: np.ndarray, sensor_size: Sequence[int]) -> np.ndarray:
    events = check_in_sensor(as_events(events, source=path), sensor_size, source=path)
    if events.shape[0] and int(events['t'][0]) < 0:
        raise EventFileError(f'{path}: negative timestamp {int(events["t"][0])}; expected '
                             f't >= 0 µs')
    return events


def write_prophesee_dat(path: str, events: np.ndarray, sensor_size: Sequence[int]) -> str:
    """Write events as a Gen1-layout ``.dat`` file (Event2D records, type byte 0).

    The header holds ``% Data file containing Event2D events.``, ``% Version 2``,
    ``% Height`` and ``% Width`` (no date, so equal events give equal files). Times are written
    modulo 2^32 µs; :func:`read_prophesee_dat` unwraps them again, so a gap of 2^31 µs or more
    across a wrap is refused.

    Args:
        path (str): the file to write.
        events (numpy.ndarray): events accepted by :func:`~.layout.as_events`, ``t >= 0``.
        sensor_size (tuple[int, int]): ``(W, H)``, at most 16384 each; events must lie on it.

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    width, height = _sensor_limits(path, sensor_size, DAT_MAX_COORD + 1, '.dat')
    events = _checked_events(path, events, sensor_size)
    t = events['t']
    if t.shape[0] > 1:
        crosses = (t[1:] >> 32) != (t[:-1] >> 32)
        if np.any(crosses & (np.diff(t) >= (np.int64(1) << 31))):
            raise ValueError(f'cannot write {path}: a gap of 2^31 µs or more across a 32-bit '
                             f'wrap of the .dat time stamp could not be read back')
    records = np.empty(t.shape[0], DAT_RECORD)
    records['t'] = t & (_WRAP_32 - 1)
    records['w'] = (events['x'].astype(np.uint32) | (events['y'].astype(np.uint32) << 14)
                    | (events['p'].astype(np.uint32) << 28))
    header = (f'% Data file containing Event2D events.\n% Version 2\n% Height {height}\n'
              f'% Width {width}\n').encode('ascii')
    with open(path, 'wb') as f:
        f.write(header + bytes([0, DAT_EVENT_SIZE]))
        records.tofile(f)
    return path


# ---- .raw -----------------------------------------------------------------------------------

def _raw_words(path: str, word: str) -> Tuple[np.ndarray, int, Optional[Tuple[int, int]], str]:
    """The body words of a ``.raw`` file, its body offset, sensor size and encoding."""
    entries, body = read_prophesee_header(path)
    encoding = raw_encoding(entries, path)
    size = header_sensor_size(entries, path)
    itemsize = np.dtype(word).itemsize
    nbytes = osp.getsize(path) - body
    if nbytes % itemsize:
        raise EventFileError(f'{path}: truncated {encoding.upper()} file: {nbytes} bytes after '
                             f'the header, not a multiple of the {itemsize}-byte word')
    count = nbytes // itemsize
    words = (np.memmap(path, word, mode='r', offset=body, shape=(count, ))
             if count else np.zeros(0, word))
    return words, body, size, encoding


def _check_types(path: str, typ: np.ndarray, unknown: Sequence[int], offset: int, itemsize: int,
                 fmt: str) -> None:
    bad = np.flatnonzero(np.isin(typ, unknown))
    if bad.size:
        i = int(bad[0])
        raise EventFileError(f'{path}: unknown {fmt} word type 0x{int(typ[i]):x} at byte '
                             f'{offset + itemsize * i} ({bad.size} such words in this block); '
                             f'the file is corrupt or not {fmt}')


def _check_time_order(path: str, t: np.ndarray, last: Optional[int], fmt: str) -> None:
    if not t.shape[0]:
        return
    full = t if last is None else np.concatenate([[last], t])
    down = np.flatnonzero(np.diff(full) < 0)
    if down.size:
        i = int(down[0])
        raise EventFileError(f'{path}: corrupt {fmt} stream: the event time decreases from '
                             f'{int(full[i])} to {int(full[i + 1])} µs after unwrapping; '
                             f'expected events in time order')


def _events(x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = np.empty(t.shape[0], EVENT_DTYPE)
    out['x'], out['y'], out['t'], out['p'] = x, y, t, p
    return out


def _forward(values: np.ndarray, rank: np.ndarray, carry: int) -> np.ndarray:
    """``values[rank]``, with ``carry`` where ``rank`` is -1 (state from an earlier chunk)."""
    return np.concatenate([[carry], values]).astype(np.int64)[rank + 1]


def read_evt2(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """Read an EVT 2.0 ``.raw`` file (module docstring) into :data:`EVENT_DTYPE` events.

    Returns:
        tuple: the events in stream order and the header's sensor size ``(W, H)`` (or ``None``).

    Raises:
        EventFileError: a truncated word, an unknown word type, or decreasing event times
            (other than a wrap of the time high); the message names the file.
    """
    words, body, size, _ = _raw_words(path, '<u4')
    known = (EVT2_CD_OFF, EVT2_CD_ON, EVT2_TIME_HIGH) + EVT2_SKIPPED
    unknown = tuple(k for k in range(16) if k not in known)
    high_raw: Optional[int] = None  # the last time high word (28 bits)
    loops, high_abs = 0, 0
    last_t: Optional[int] = None
    out = []
    for start in range(0, words.shape[0], CHUNK):
        w = np.asarray(words[start:start + CHUNK])
        typ = w >> 28
        if high_raw is None:  # words before the first time high are skipped
            first = np.flatnonzero(typ == EVT2_TIME_HIGH)
            if not first.size:
                continue
            w, typ, start = w[first[0]:], typ[first[0]:], start + int(first[0])
        _check_types(path, typ, unknown, body + 4 * start, 4, 'EVT 2.0')
        is_high = typ == EVT2_TIME_HIGH
        high = (w[is_high] & 0x0FFFFFFF).astype(np.int64)
        if high.size:
            prev = np.concatenate([[high[0] if high_raw is None else high_raw], high[:-1]])
            wrapped = prev - high >= (1 << 27)
            abs_high = ((loops + np.cumsum(wrapped)) << 28) + high
        else:
            abs_high = high
        is_cd = typ <= EVT2_CD_ON
        rank = (np.cumsum(is_high) - 1)[is_cd]
        cd = w[is_cd]
        t = (_forward(abs_high, rank, high_abs) << 6) + ((cd >> 22) & 0x3F)
        _check_time_order(path, t, last_t, 'EVT 2.0')
        out.append(_events((cd >> 11) & 0x7FF, cd & 0x7FF, t, typ[is_cd] == EVT2_CD_ON))
        if high.size:
            high_raw, high_abs = int(high[-1]), int(abs_high[-1])
            loops = high_abs >> 28
        if t.size:
            last_t = int(t[-1])
    events = np.concatenate(out) if out else np.zeros(0, EVENT_DTYPE)
    return events, size


class _Evt3State:
    """What an EVT 3.0 decoder carries from one chunk of words to the next."""

    def __init__(self) -> None:
        self.started = False
        self.high_raw = 0
        self.high_abs = 0
        self.loops = 0
        self.low = 0
        self.y = -1
        self.base = -1
        self.base_p = 0
        self.last_t: Optional[int] = None


def read_evt3(path: str) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """Read an EVT 3.0 ``.raw`` file (module docstring) into :data:`EVENT_DTYPE` events.

    The stateful format is decoded with array operations: the last ADDR_Y, VECT_BASE_X,
    TIME_HIGH and TIME_LOW word before every event word is found with cumulative counts, the
    vector base is advanced by the running sum of the vector widths, and the VECT_12 / VECT_8
    masks are unpacked into one event per set bit (ascending x, the stream order).

    Returns:
        tuple: the events in stream order and the header's sensor size ``(W, H)`` (or ``None``).

    Raises:
        EventFileError: a truncated word, an unknown word type, an event word before any
            ADDR_Y, a vector word without a preceding VECT_BASE_X, or decreasing event times;
            the message names the file and the byte offset.
    """
    words, body, size, _ = _raw_words(path, '<u2')
    state = _Evt3State()
    out = []
    for start in range(0, words.shape[0], CHUNK):
        w = np.asarray(words[start:start + CHUNK])
        typ = w >> 12
        if not state.started:  # words before the first time high are skipped
            first = np.flatnonzero(typ == EVT3_TIME_HIGH)
            if not first.size:
                continue
            w, typ, start = w[first[0]:], typ[first[0]:], start + int(first[0])
        _check_types(path, typ, EVT3_UNKNOWN, body + 2 * start, 2, 'EVT 3.0')
        out.append(_decode_evt3_chunk(path, w, typ, state, body + 2 * start))
    events = np.concatenate(out) if out else np.zeros(0, EVENT_DTYPE)
    return events, size


def _decode_evt3_chunk(path: str, w: np.ndarray, typ: np.ndarray, state: _Evt3State,
                       offset: int) -> np.ndarray:
    content = (w & 0xFFF).astype(np.int64)
    pos = np.arange(w.shape[0])
    # time high: unwrap (a drop of >= 2048 is a wrap), and mark the words that change it
    is_high = typ == EVT3_TIME_HIGH
    high = content[is_high]
    if high.size:
        prev = np.concatenate([[state.high_raw if state.started else -1], high[:-1]])
        wrapped = prev >= 2048 + high
        abs_high = ((state.loops + np.cumsum(wrapped)) << 12) + high
        changed = high != prev
    else:
        abs_high, changed = high, np.zeros(0, bool)
    state.started = True
    high_rank = np.cumsum(is_high) - 1
    mark = np.zeros(w.shape[0], bool)
    mark[np.flatnonzero(is_high)[changed]] = True
    last_change = np.maximum.accumulate(np.where(mark, pos, -1))
    last_low = np.maximum.accumulate(np.where(typ == EVT3_TIME_LOW, pos, -1))
    # y and vector base
    is_y = typ == EVT3_ADDR_Y
    y_rank = np.cumsum(is_y) - 1
    is_base = typ == EVT3_VECT_BASE_X
    base_rank = np.cumsum(is_base) - 1
    base_pos = np.flatnonzero(is_base)
    width = np.where(typ == EVT3_VECT_12, 12, np.where(typ == EVT3_VECT_8, 8, 0))
    moved = np.cumsum(width) - width  # vector widths before each word

    def low_at(idx: np.ndarray) -> np.ndarray:
        lo, ch = last_low[idx], last_change[idx]
        return np.where(lo > ch, content[np.maximum(lo, 0)],
                        np.where((lo < 0) & (ch < 0), state.low, 0))

    ev = np.flatnonzero((typ == EVT3_ADDR_X) | (typ == EVT3_VECT_12) | (typ == EVT3_VECT_8))
    ev_typ = typ[ev]
    t = (_forward(abs_high, high_rank[ev], state.high_abs) << 12) + low_at(ev)
    y = _forward(content[is_y] & 0x7FF, y_rank[ev], state.y)
    if np.any(y < 0):
        i = int(ev[np.flatnonzero(y < 0)[0]])
        raise EventFileError(f'{path}: corrupt EVT 3.0 stream: event word at byte '
                             f'{offset + 2 * i} before any EVT_ADDR_Y word')
    is_vec = ev_typ != EVT3_ADDR_X
    vec = ev[is_vec]
    b_rank = base_rank[vec]
    if np.any((b_rank < 0) & (state.base < 0)):
        i = int(vec[np.flatnonzero((b_rank < 0) & (state.base < 0))[0]])
        raise EventFileError(f'{path}: corrupt EVT 3.0 stream: vector word (VECT_12 / VECT_8) '
                             f'at byte {offset + 2 * i} without a preceding VECT_BASE_X word')
    b_value = content[is_base] & 0x7FF
    b_pol = (content[is_base] >> 11) & 1
    from_chunk = b_rank >= 0
    b_idx = np.maximum(b_rank, 0)
    vec_x = np.where(from_chunk, b_value[b_idx] + moved[vec] - moved[base_pos[b_idx]]
                     if base_pos.size else 0, state.base + moved[vec])
    vec_p = np.where(from_chunk, b_pol[b_idx] if base_pos.size else 0, state.base_p)
    # one (x0, mask, p) per event word; ADDR_X is a one-bit vector at its own x
    x0 = content[ev] & 0x7FF
    pol = (content[ev] >> 11) & 1
    mask = np.ones(ev.shape[0], np.int64)
    x0[is_vec], pol[is_vec] = vec_x, vec_p
    mask[is_vec] = np.where(ev_typ[is_vec] == EVT3_VECT_12, content[vec], content[vec] & 0xFF)
    bits = np.unpackbits(mask.astype('<u2').view(np.uint8).reshape(-1, 2), axis=1,
                         bitorder='little')
    row, k = np.nonzero(bits)
    events = _events(x0[row] + k, y[row], t[row], pol[row] == 1)
    _check_time_order(path, events['t'], state.last_t, 'EVT 3.0')
    # carry the state to the next chunk
    end = w.shape[0] - 1
    state.low = int(low_at(np.array([end]))[0]) if w.shape[0] else state.low
    if high.size:
        state.high_raw, state.high_abs = int(high[-1]), int(abs_high[-1])
        state.loops = state.high_abs >> 12
    if is_y.any():
        state.y = int(content[is_y][-1] & 0x7FF)
    total = int(width.sum())
    if base_pos.size:
        state.base = int(b_value[-1] + total - moved[base_pos[-1]])
        state.base_p = int(b_pol[-1])
    elif state.base >= 0:
        state.base += total
    if events.shape[0]:
        state.last_t = int(events['t'][-1])
    return events


def _raw_header(encoding: str, width: int, height: int) -> bytes:
    version, name = {'evt2': ('2.0', 'EVT2'), 'evt3': ('3.0', 'EVT3')}[encoding]
    return (f'% evt {version}\n% format {name};height={height};width={width}\n'
            f'% geometry {width}x{height}\n% end\n').encode('ascii')


def write_evt2(path: str, events: np.ndarray, sensor_size: Sequence[int]) -> str:
    """Write events as an EVT 2.0 ``.raw`` file (little-endian).

    The header is ``% evt 2.0``, ``% format EVT2;height=H;width=W``, ``% geometry WxH`` and
    ``% end``. An EVT_TIME_HIGH word precedes the first event and every event whose time high
    (``t >> 6``) differs from the previous event's; times wrap every 2^34 µs, so gaps of 2^33 µs
    or more are refused. :func:`read_evt2` reads the file back to the same events.

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    width, height = _sensor_limits(path, sensor_size, RAW_MAX_SIZE, 'EVT 2.0')
    events = _checked_events(path, events, sensor_size)
    t = events['t']
    if t.shape[0] > 1 and int(np.diff(t).max()) >= (1 << 33):
        raise ValueError(f'cannot write {path}: a gap of 2^33 µs or more between events '
                         f'could not be read back (the EVT 2.0 time wraps every 2^34 µs)')
    high = t >> 6
    new_high = np.ones(t.shape[0], bool)
    new_high[1:] = high[1:] != high[:-1]
    count = 1 + new_high
    offset = np.cumsum(count) - count
    words = np.empty(int(count.sum()), np.uint32)
    words[offset[new_high]] = (EVT2_TIME_HIGH << 28) | (high[new_high] & 0x0FFFFFFF)
    words[offset + new_high] = ((events['p'].astype(np.uint32) << 28)
                                | ((t & 0x3F).astype(np.uint32) << 22)
                                | (events['x'].astype(np.uint32) << 11)
                                | events['y'].astype(np.uint32))
    with open(path, 'wb') as f:
        f.write(_raw_header('evt2', width, height))
        words.astype('<u4').tofile(f)
    return path


def write_evt3(path: str, events: np.ndarray, sensor_size: Sequence[int]) -> str:
    """Write events as an EVT 3.0 ``.raw`` file (little-endian).

    The header is ``% evt 3.0``, ``% format EVT3;height=H;width=W``, ``% geometry WxH`` and
    ``% end``. The stream holds an EVT_TIME_HIGH word for every time high from 0 to the last
    event's (as a camera emits them, so every wrap of the 24-bit time is seen), an
    EVT_TIME_LOW word where the time changes and an EVT_ADDR_Y word where the row changes.
    Events of equal time, row and polarity at increasing x inside one aligned 32-pixel block
    are written as VECT_BASE_X, VECT_12, VECT_12, VECT_8 (the grouping OpenEB's decoder
    expects); every other event as EVT_ADDR_X. :func:`read_evt3` reads the file back to the
    same events (equal-time events of a vector in ascending x).

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    width, height = _sensor_limits(path, sensor_size, RAW_MAX_SIZE, 'EVT 3.0')
    events = _checked_events(path, events, sensor_size)
    n = events.shape[0]
    t, x, y = events['t'], events['x'].astype(np.int64), events['y'].astype(np.int64)
    p = events['p'].astype(np.int64)
    block = x >> 5
    in_block = (block << 5) + 32 <= width
    new = np.ones(n, bool)
    new[1:] = ((t[1:] != t[:-1]) | (y[1:] != y[:-1]) | (p[1:] != p[:-1])
               | (block[1:] != block[:-1]) | (x[1:] <= x[:-1]) | ~in_block[1:]
               | ~in_block[:-1])
    first = np.flatnonzero(new)
    size = np.diff(np.append(first, n))
    gt, gy, gp, gx = t[first], y[first], p[first], x[first]
    is_vec = size > 1
    mask = np.add.reduceat(np.int64(1) << (x & 31), first) if n else np.zeros(0, np.int64)
    high = gt >> 12
    prev_high = np.concatenate([[-1], high[:-1]])
    n_high = high - prev_high
    n_low = np.ones(first.shape[0], np.int64)
    n_low[1:] = gt[1:] != gt[:-1]
    n_y = np.ones(first.shape[0], np.int64)
    n_y[1:] = gy[1:] != gy[:-1]
    n_ev = np.where(is_vec, 4, 1)
    count = n_high + n_low + n_y + n_ev
    offset = np.cumsum(count) - count
    words = np.empty(int(count.sum()), np.uint16)
    group = np.repeat(np.arange(first.shape[0]), n_high)
    step = np.arange(group.shape[0]) - np.repeat(np.cumsum(n_high) - n_high, n_high)
    words[offset[group] + step] = (EVT3_TIME_HIGH << 12) | ((prev_high[group] + 1 + step) & 0xFFF)
    at = offset + n_high
    words[at[n_low == 1]] = (EVT3_TIME_LOW << 12) | (gt[n_low == 1] & 0xFFF)
    at = at + n_low
    words[at[n_y == 1]] = (EVT3_ADDR_Y << 12) | gy[n_y == 1]
    at = at + n_y
    single = ~is_vec
    words[at[single]] = (EVT3_ADDR_X << 12) | (gp[single] << 11) | gx[single]
    vat, vmask = at[is_vec], mask[is_vec]
    words[vat] = (EVT3_VECT_BASE_X << 12) | (gp[is_vec] << 11) | (gx[is_vec] >> 5 << 5)
    words[vat + 1] = (EVT3_VECT_12 << 12) | (vmask & 0xFFF)
    words[vat + 2] = (EVT3_VECT_12 << 12) | ((vmask >> 12) & 0xFFF)
    words[vat + 3] = (EVT3_VECT_8 << 12) | ((vmask >> 24) & 0xFF)
    with open(path, 'wb') as f:
        f.write(_raw_header('evt3', width, height))
        words.astype('<u2').tofile(f)
    return path


#: The readers of the three formats, by :func:`prophesee_format` name.
PROPHESEE_READERS = {'prophesee_dat': read_prophesee_dat, 'evt2': read_evt2, 'evt3': read_evt3}


# ---- windows --------------------------------------------------------------------------------

class PropheseeWindowReader:
    """The events of time windows of one Prophesee recording (``.dat`` or ``.raw``).

    A ``.dat`` file is memory-mapped: opening it checks its time order once (and finds the
    32-bit wraps), and every window is a binary search over the time column plus the decoding
    of the window's records, so a long recording is never decoded per window. A ``.raw`` file
    is decoded once when opened and the reader keeps its events.

    Args:
        path (str): the ``.dat`` or ``.raw`` file.

    Attributes:
        path (str): the file.
        sensor_size (tuple[int, int] | None): ``(W, H)`` from the header, if declared.
        num_events (int): the number of CD events.
        t_first, t_last (int | None): the first and last event times (µs); ``None`` for a
            recording without events.
    """

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        if not osp.isfile(self.path):
            raise FileNotFoundError(f'event file {self.path} does not exist')
        fmt = prophesee_format(self.path)
        self._events: Optional[np.ndarray] = None
        if fmt == 'prophesee_dat':
            body, count, self.sensor_size = _dat_layout(self.path)
            self._records = _dat_records(self.path, body, count)
            self._wraps = _dat_wraps(self.path, self._records)
            self._starts = np.concatenate([[0], self._wraps, [count]]).astype(np.int64)
            self.num_events = count
            stamps = self._records['t']
            ends = ((int(stamps[0]), int(stamps[count - 1]) + (self._wraps.shape[0] << 32))
                    if count else None)
        else:
            self._events, self.sensor_size = PROPHESEE_READERS[fmt](self.path)
            self.num_events = self._events.shape[0]
            ends = ((int(self._events['t'][0]), int(self._events['t'][-1]))
                    if self.num_events else None)
            if self.sensor_size is not None:
                check_in_sensor(self._events, self.sensor_size,
                                source=f'{self.path} (sensor size declared by the file)')
        self.t_first = None if ends is None else ends[0]
        self.t_last = None if ends is None else ends[1]

    def _index(self, t: int) -> int:
        """The number of events with time < ``t`` (a ``.dat`` file)."""
        if t <= 0:
            return 0
        period = t >> 32
        if period >= self._starts.shape[0] - 1:
            return self.num_events
        lo, hi = int(self._starts[period]), int(self._starts[period + 1])
        return bisect.bisect_left(self._records['t'], t - (period << 32), lo, hi)

    def read_window(self, t_start_us: int, t_end_us: int) -> np.ndarray:
        """The events with ``t_start_us <= t < t_end_us``, in time order.

        Returns:
            numpy.ndarray: :data:`EVENT_DTYPE` events; empty for a window without events.

        Raises:
            EventFileError: events of the window outside the sensor size the file declares.
        """
        t_start_us, t_end_us = int(t_start_us), int(t_end_us)
        if self._events is not None:
            t = self._events['t']
            lo = int(np.searchsorted(t, t_start_us, side='left'))
            hi = int(np.searchsorted(t, t_end_us, side='left'))
            return self._events[lo:max(lo, hi)]
        lo, hi = self._index(t_start_us), self._index(t_end_us)
        if hi <= lo:
            return np.zeros(0, EVENT_DTYPE)
        events = _decode_dat(self._records[lo:hi], self._wraps, lo)
        if self.sensor_size is not None:
            check_in_sensor(events, self.sensor_size,
                            source=f'{self.path} (sensor size declared by the file)')
        return events


def open_windowed(path: str) -> PropheseeWindowReader:
    """A :class:`PropheseeWindowReader` of a ``.dat`` / ``.raw`` recording."""
    return PropheseeWindowReader(path)


def read_events_window(path: str, t_start_us: int, t_end_us: int) -> np.ndarray:
    """The events of ``path`` with ``t_start_us <= t < t_end_us`` (``.dat`` / ``.raw``).

    Opens a :class:`PropheseeWindowReader` per call; keep one from :func:`open_windowed` to
    read many windows of a recording.
    """
    return open_windowed(path).read_window(t_start_us, t_end_us)
