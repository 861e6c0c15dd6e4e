"""Prophesee event files (.dat, EVT 2.0 / 3.0 .raw) and box files.

The byte-exact files are built here word by word from Prophesee's published format pages
("DAT File Format", "RAW File Format", "EVT 2.0 Format", "EVT 3.0 Format") and the automotive
toolbox's .dat layout, independently of the decoders; the expected events follow from those
descriptions by hand.
"""
import struct

import numpy as np
import pytest

from mmsdt.datasets import EVENT_DTYPE, read_events, write_events
from mmsdt.datasets.events import (BBOX_DTYPE, EventFileError, check_prophesee_boxes,
                                   detect_format, open_windowed, read_events_window,
                                   read_prophesee_boxes, write_prophesee_boxes)
from mmsdt.datasets.events import prophesee

DAT_HEADER = b'% Data file containing Event2D events.\n% Version 2\n% Height 240\n% Width 304\n'
EVT2_HEADER = b'% evt 2.0\n% format EVT2;height=720;width=1280\n% end\n'
EVT3_HEADER = b'% evt 3.0\n% format EVT3;height=720;width=1280\n% geometry 1280x720\n% end\n'


def events_of(rows):
    """EVENT_DTYPE from (x, y, t, p) rows."""
    return np.array([tuple(r) for r in rows], EVENT_DTYPE)


def assert_events_equal(got, want):
    assert got.dtype == EVENT_DTYPE
    for name in ('x', 'y', 't', 'p'):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def dat_record(t, x, y, p):
    return struct.pack('<II', t, x | (y << 14) | (p << 28))


def evt2_file(tmp_path, words, header=EVT2_HEADER, name='rec.raw'):
    path = tmp_path / name
    path.write_bytes(header + struct.pack(f'<{len(words)}I', *words))
    return str(path)


def evt3_file(tmp_path, words, header=EVT3_HEADER, name='rec.raw'):
    path = tmp_path / name
    path.write_bytes(header + struct.pack(f'<{len(words)}H', *words))
    return str(path)


def random_events(rng, n, width, height, t_max):
    """Events sorted by (t, y, x), the order an EVT 3.0 vector keeps."""
    ev = np.zeros(n, EVENT_DTYPE)
    ev['t'] = rng.integers(0, t_max, n)
    ev['x'] = rng.integers(0, width, n)
    ev['y'] = rng.integers(0, height, n)
    ev['p'] = rng.integers(0, 2, n).astype(bool)
    return ev[np.lexsort((ev['x'], ev['y'], ev['t']))]


# ---- byte-exact files from the format descriptions -------------------------------------------

def test_dat_file_built_from_the_spec_decodes_with_a_32_bit_wrap(tmp_path):
    body = (dat_record(10, 0, 0, 1) + dat_record(4294967290, 303, 239, 0)
            + dat_record(3, 17, 5, 1))  # 2**32 - 6, then 3 after the wrap
    path = tmp_path / 'rec_td.dat'
    path.write_bytes(DAT_HEADER + bytes([0, 8]) + body)
    assert detect_format(str(path)) == 'prophesee_dat'
    assert_events_equal(read_events(str(path)),
                        events_of([(0, 0, 10, True), (303, 239, 4294967290, False),
                                   (17, 5, 2**32 + 3, True)]))


def test_dat_eventcd_type_and_1mpx_coordinates(tmp_path):
    path = tmp_path / 'big_td.dat'
    header = b'% Data file containing CD events\n% Version 2\n% Width 1280\n% Height 720\n'
    path.write_bytes(header + bytes([12, 8]) + dat_record(7, 1279, 719, 1))
    events, size = prophesee.read_prophesee_dat(str(path))
    assert size == (1280, 720)
    assert_events_equal(events, events_of([(1279, 719, 7, True)]))


def test_evt2_file_built_from_the_spec(tmp_path):
    words = [
        (1 << 28) | (9 << 11) | 9,                       # CD before any time high: skipped
        (0x8 << 28) | 100,                               # time high 100 -> base 6400 µs
        (0x1 << 28) | (5 << 22) | (1279 << 11) | 719,    # CD_ON  t 6405 (1279, 719)
        (0xA << 28) | 1,                                 # EXT_TRIGGER: skipped
        (0x0 << 28) | (63 << 22) | (3 << 11) | 4,        # CD_OFF t 6463 (3, 4)
        (0x8 << 28) | 101,                               # time high 101 -> 6464 µs
        (0x0 << 28) | (0 << 22) | (0 << 11) | 0,         # CD_OFF t 6464 (0, 0)
        (0x8 << 28) | 0x0FFFFFFF,                        # last time high before the wrap
        (0x1 << 28) | (1 << 22) | (2 << 11) | 3,         # CD_ON t (2**28 - 1) * 64 + 1
        (0x8 << 28) | 0,                                 # wrap of the 34-bit time
        (0x1 << 28) | (2 << 22) | (4 << 11) | 5,         # CD_ON t 2**34 + 2
    ]
    path = evt2_file(tmp_path, words)
    assert detect_format(path) == 'evt2'
    assert_events_equal(read_events(path, sensor_size=(1280, 720)), events_of([
        (1279, 719, 6405, True), (3, 4, 6463, False), (0, 0, 6464, False),
        (2, 3, (2**28 - 1) * 64 + 1, True), (4, 5, 2**34 + 2, True)]))


def test_evt3_file_built_from_the_spec(tmp_path):
    words = [
        0x0000 | 5,                      # ADDR_Y before the first time high: skipped
        0x8000 | 1,                      # TIME_HIGH 1
        0x6000 | 0x010,                  # TIME_LOW 16 -> t = 4096 + 16
        0x0000 | 719,                    # ADDR_Y 719
        0x2000 | (1 << 11) | 1279,       # ADDR_X 1279, ON
        0x3000 | (0 << 11) | 100,        # VECT_BASE_X 100, OFF
        0x4000 | 0b100000000101,         # VECT_12: x 100, 102, 111; base -> 112
        0x5000 | 0b10000001,             # VECT_8: x 112, 119; base -> 120
        0xA000 | 0x001,                  # EXT_TRIGGER: skipped
        0xE014, 0xF123, 0xF456, 0x7007,  # OTHERS + CONTINUED_12, 12, 4: skipped
        0x6000 | 0x020,                  # TIME_LOW 32 -> t = 4128
        0x4000 | 0b1,                    # VECT_12 on the moved base: x 120
        0x8000 | 2,                      # TIME_HIGH 2 clears the time low -> t = 8192
        0x0000 | 3,                      # ADDR_Y 3
        0x2000 | (1 << 11) | 7,          # ADDR_X 7, ON
        0x8000 | 0xFFF, 0x6000 | 5,      # t = 4095 * 4096 + 5
        0x2000 | 8,                      # ADDR_X 8, OFF
        0x8000 | 0x000, 0x6000 | 6,      # wrap of the 24-bit time: t = 2**24 + 6
        0x2000 | 9,
    ]
    path = evt3_file(tmp_path, words)
    assert detect_format(path) == 'evt3'
    t1, t2 = 4096 + 16, 4096 + 32
    assert_events_equal(read_events(path), events_of([
        (1279, 719, t1, True), (100, 719, t1, False), (102, 719, t1, False),
        (111, 719, t1, False), (112, 719, t1, False), (119, 719, t1, False),
        (120, 719, t2, False), (7, 3, 8192, True), (8, 3, 4095 * 4096 + 5, False),
        (9, 3, 2**24 + 6, False)]))


# ---- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize('ext, encoding, t_max, t_offset', [
    ('.dat', 'evt3', 2**22, 2**32 - 2**21),   # crosses the 32-bit wrap of the .dat time
    ('.raw', 'evt2', 2**22, 2**34 - 2**23),   # many EVT 2.0 time highs, near the top
    ('.raw', 'evt3', 3 * 2**24, 0),           # two wraps of the 24-bit EVT 3.0 time
])
def test_round_trip_through_write_events_and_read_events(tmp_path, ext, encoding, t_max,
                                                          t_offset):
    rng = np.random.default_rng(0)
    events = random_events(rng, 4000, 1280, 720, t_max)
    events['t'] += t_offset
    corner = events_of([(1279, 719, int(events['t'][-1]) + 1, True)])
    run = np.zeros(20, EVENT_DTYPE)  # one row of a 32-pixel block at one time: a vector
    run['x'], run['y'], run['t'], run['p'] = np.arange(64, 84), 7, corner['t'][0] + 1, False
    events = np.concatenate([events, corner, run])
    path = str(tmp_path / f'rec{ext}')
    write_events(path, events, (1280, 720), encoding=encoding)
    assert detect_format(path) == ('prophesee_dat' if ext == '.dat' else encoding)
    assert_events_equal(read_events(path, sensor_size=(1280, 720)), events)


def test_evt3_writer_uses_vectors_and_small_chunks_decode_the_same(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    events = random_events(rng, 500, 64, 48, 2**25)
    run = np.zeros(32, EVENT_DTYPE)
    run['x'], run['y'], run['t'] = np.arange(32, 64), 3, 2**25
    events = np.concatenate([events, run])
    path = str(tmp_path / 'rec.raw')
    prophesee.write_evt3(path, events, (64, 48))
    with open(path, 'rb') as f:
        _, body = prophesee._parse_header(f, path)
    words = np.fromfile(path, '<u2', offset=body)
    assert np.any(words >> 12 == prophesee.EVT3_VECT_BASE_X)
    # the decoder's state carried across chunk borders gives the same events
    for chunk in (3, 64):
        monkeypatch.setattr(prophesee, 'CHUNK', chunk)
        assert_events_equal(prophesee.read_evt3(path)[0], events)


# ---- windows --------------------------------------------------------------------------------

def test_dat_window_reader_is_half_open_across_a_wrap_and_decodes_only_the_window(
        tmp_path, monkeypatch):
    t = np.array([5, 10, 10, 20, 2**32 - 1, 2**32, 2**32 + 7])
    events = np.zeros(t.shape[0], EVENT_DTYPE)
    events['t'], events['x'] = t, np.arange(t.shape[0])
    path = str(tmp_path / 'rec_td.dat')
    write_events(path, events, (304, 240))
    reader = open_windowed(path)
    assert (reader.t_first, reader.t_last, reader.num_events) == (5, 2**32 + 7, 7)
    assert reader.sensor_size == (304, 240)
    decoded = []
    real_decode = prophesee._decode_dat
    monkeypatch.setattr(prophesee, '_decode_dat',
                        lambda rec, *a: decoded.append(len(rec)) or real_decode(rec, *a))
    assert reader.read_window(10, 20)['x'].tolist() == [1, 2]           # [10, 20)
    assert reader.read_window(11, 21)['x'].tolist() == [3]
    assert reader.read_window(2**32 - 1, 2**32 + 8)['x'].tolist() == [4, 5, 6]
    assert reader.read_window(21, 2**32 - 1).shape == (0, )              # empty window
    assert reader.read_window(-100, 6)['x'].tolist() == [0]
    assert reader.read_window(2**33, 2**34).shape == (0, )
    assert decoded == [2, 1, 3, 1]
    assert read_events_window(path, 0, 2**40)['x'].tolist() == list(range(7))


def test_raw_window_reader(tmp_path):
    events = events_of([(1, 1, 100, True), (2, 2, 200, False), (3, 3, 300, True)])
    path = str(tmp_path / 'rec.raw')
    write_events(path, events, (16, 16))
    reader = open_windowed(path)
    assert (reader.t_first, reader.t_last, reader.sensor_size) == (100, 300, (16, 16))
    assert reader.read_window(100, 300)['x'].tolist() == [1, 2]
    assert reader.read_window(301, 400).shape == (0, )


# ---- bad files ------------------------------------------------------------------------------

def write_dat(tmp_path, body, type_size=(0, 8), header=DAT_HEADER):
    path = tmp_path / 'bad_td.dat'
    path.write_bytes(header + bytes(type_size) + body)
    return str(path)


@pytest.mark.parametrize('body, type_size, match', [
    (dat_record(1, 0, 0, 0) + b'\x00\x01\x02', (0, 8), 'not a multiple of 8'),
    (dat_record(1, 0, 0, 0), (0, 16), 'event size byte 16'),
    (dat_record(1, 0, 0, 0), (14, 8), 'event type byte 14'),
    (dat_record(100, 0, 0, 0) + dat_record(50, 1, 1, 0), (0, 8), 'decreases from 100 to 50'),
])
def test_corrupt_dat_files_name_the_file(tmp_path, body, type_size, match):
    path = write_dat(tmp_path, body, type_size)
    with pytest.raises(EventFileError, match=match) as info:
        read_events(path)
    assert path in str(info.value)
    with pytest.raises(EventFileError, match=match):
        open_windowed(path)


def test_dat_events_outside_the_declared_geometry(tmp_path):
    path = write_dat(tmp_path, dat_record(1, 304, 0, 0))
    with pytest.raises(EventFileError, match=r'outside the sensor .*\(304, 240\)'):
        read_events(path)
    with pytest.raises(EventFileError, match='outside the sensor'):
        open_windowed(path).read_window(0, 10)


@pytest.mark.parametrize('words, match', [
    ([0x8000, 0x9000], 'unknown EVT 3.0 word type 0x9 at byte'),
    ([0x8000, 0x0000 | 1, 0x4000 | 1], 'without a preceding VECT_BASE_X'),
    ([0x8000, 0x2000 | 1], 'before any EVT_ADDR_Y'),
    ([0x8000 | 5, 0x0000, 0x2000, 0x8000 | 4, 0x2000], 'decreases from 20480 to 16384'),
])
def test_corrupt_evt3_streams(tmp_path, words, match):
    path = evt3_file(tmp_path, words)
    with pytest.raises(EventFileError, match=match) as info:
        read_events(path)
    assert path in str(info.value)


def test_truncated_raw_words_and_unknown_headers(tmp_path):
    path = tmp_path / 'odd.raw'
    path.write_bytes(EVT3_HEADER + b'\x00\x80\x00')
    with pytest.raises(EventFileError, match='multiple of the 2-byte word'):
        read_events(str(path))
    path.write_bytes(EVT2_HEADER + b'\x00\x00\x00\x80\x00')
    with pytest.raises(EventFileError, match='multiple of the 4-byte word'):
        read_events(str(path))
    path.write_bytes(b'\x00\x80')
    with pytest.raises(EventFileError, match='no "% evt" or "% format" line'):
        read_events(str(path))
    path.write_bytes(b'% format EVT21;height=720;width=1280\n% end\n')
    with pytest.raises(EventFileError, match='EVT21 has no reader'):
        read_events(str(path))
    path.write_bytes(b'% format EVT3;height=720;width=1280\n% geometry 640x480\n% end\n')
    with pytest.raises(EventFileError, match='different sensor sizes'):
        read_events(str(path))


def test_writers_refuse_what_the_format_cannot_hold(tmp_path):
    events = events_of([(2047, 0, 1, True)])
    with pytest.raises(ValueError, match='up to 2048 x 2048'):
        write_events(str(tmp_path / 'a.raw'), events, (4096, 16))
    with pytest.raises(ValueError, match='encoding'):
        write_events(str(tmp_path / 'a.raw'), events, (2048, 16), encoding='evt21')
    far = events_of([(0, 0, 1, True), (0, 0, 2**33 + 1, True)])
    with pytest.raises(ValueError, match='2\\^33'):
        write_events(str(tmp_path / 'b.raw'), far, (16, 16), encoding='evt2')
    across = events_of([(0, 0, 2**31, True), (0, 0, 2**32 + 2**31, True)])
    with pytest.raises(ValueError, match='wrap'):
        write_events(str(tmp_path / 'c.dat'), across, (16, 16))


# ---- box files ------------------------------------------------------------------------------

def boxes_of(rows, dtype=BBOX_DTYPE):
    """Boxes from (ts, x, y, w, h, class_id, confidence, track_id) rows."""
    out = np.zeros(len(rows), dtype)
    for i, (ts, x, y, w, h, cls, conf, track) in enumerate(rows):
        for name, value in zip(dtype.names, (ts, x, y, w, h)):
            out[name][i] = value
        out['class_id'][i], out['track_id'][i] = cls, track
        out[[n for n in dtype.names if 'confidence' in n][0]][i] = conf
    return out


def test_box_file_round_trip_and_the_gen1_dtype(tmp_path):
    assert BBOX_DTYPE.names == ('ts', 'x', 'y', 'w', 'h', 'class_id', 'confidence',
                                'track_id')
    boxes = boxes_of([(500000, 10.5, 20, 30, 40, 0, 1.0, 7), (500000, 0, 0, 304, 240, 1, 1, 8),
                      (750000, 100, 50, 20, 60, 1, 0.5, 7)])
    path = write_prophesee_boxes(str(tmp_path / 'rec_bbox.npy'), boxes)
    out = read_prophesee_boxes(path, sensor_size=(304, 240))
    assert out.dtype == BBOX_DTYPE
    np.testing.assert_array_equal(out, boxes)


def test_toolbox_1mpx_box_dtype_is_accepted():
    newer = np.dtype({'names': ['t', 'x', 'y', 'w', 'h', 'class_id', 'track_id',
                                'class_confidence'],
                      'formats': ['<i8', '<f4', '<f4', '<f4', '<f4', '<u4', '<u4', '<f4'],
                      'offsets': [0, 8, 12, 16, 20, 24, 28, 32], 'itemsize': 40})
    boxes = boxes_of([(1000, 1, 2, 3, 4, 2, 0.25, 9)], newer)
    out = check_prophesee_boxes(boxes, 'one.npy', sensor_size=(1280, 720))
    assert out.dtype == BBOX_DTYPE
    assert out[0].tolist() == (1000, 1.0, 2.0, 3.0, 4.0, 2, 0.25, 9)


def test_bad_box_files_name_the_file(tmp_path):
    path = str(tmp_path / 'bad_bbox.npy')
    np.save(path, boxes_of([(20, 0, 0, 5, 5, 0, 1, 0), (10, 0, 0, 5, 5, 0, 1, 0)]))
    with pytest.raises(EventFileError, match='not sorted: box 1 at 10 µs follows box 0') as info:
        read_prophesee_boxes(path)
    assert path in str(info.value)
    lacking = np.zeros(1, [('ts', '<u8'), ('x', '<f4'), ('y', '<f4'), ('w', '<f4'),
                           ('h', '<f4'), ('class_id', 'u1')])
    np.save(path, lacking)
    with pytest.raises(EventFileError, match=r"missing \['confidence/class_confidence', "
                                             r"'track_id'\]"):
        read_prophesee_boxes(path)
    np.save(path, boxes_of([(10, 0, 0, -5, 5, 0, 1, 0)]))
    with pytest.raises(EventFileError, match='negative w'):
        read_prophesee_boxes(path)
    with pytest.raises(FileNotFoundError):
        read_prophesee_boxes(str(tmp_path / 'missing_bbox.npy'))


def test_boxes_outside_the_sensor_raise_or_are_clipped(tmp_path):
    path = str(tmp_path / 'rec_bbox.npy')
    np.save(path, boxes_of([(10, -4, 10, 20, 20, 0, 1, 1),      # left edge outside
                            (10, 300, 230, 10, 20, 1, 1, 2),    # right / bottom outside
                            (20, 310, 10, 5, 5, 0, 1, 3),       # wholly outside: dropped
                            (20, 284, 220, 20, 20, 1, 1, 4)]))  # ends on the border: inside
    with pytest.raises(EventFileError, match=r'3 of 4 boxes lie outside the sensor '
                                             r'\(W, H\) = \(304, 240\)') as info:
        read_prophesee_boxes(path, sensor_size=(304, 240))
    assert path in str(info.value)
    clipped = read_prophesee_boxes(path, sensor_size=(304, 240), outside='clip')
    assert clipped['track_id'].tolist() == [1, 2, 4]
    np.testing.assert_array_equal(clipped['x'], [0, 300, 284])
    np.testing.assert_array_equal(clipped['w'], [16, 4, 20])
    np.testing.assert_array_equal(clipped['h'], [20, 10, 20])
