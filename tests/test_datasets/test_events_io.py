"""Event layout, readers and writers.

The AEDAT 2.0 / 3.1 and ATIS files are built here byte by byte from the published format
descriptions (iniVation's AEDAT pages and libcaer's polarity.h for 3.1, jAER's DVS128 address
layout for 2.0, the N-MNIST page for ATIS), independently of the reader's code; the AEDAT 4.0
file is written by iniVation's dv-processing and read through the ``aedat`` decoder.
"""
import struct

import numpy as np
import pytest

from mmsdt.datasets import EVENT_DTYPE, read_events, write_events
from mmsdt.datasets.events import EventFileError, as_events, check_in_sensor, detect_format


def events_of(rows):
    """EVENT_DTYPE from (x, y, t, p) rows."""
    return np.array([tuple(r) for r in rows], EVENT_DTYPE)


def assert_events_equal(got, want):
    assert got.dtype == EVENT_DTYPE
    for name in ('x', 'y', 't', 'p'):
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


# ---- layout ---------------------------------------------------------------------------------

def test_as_events_accepts_tonic_layout_in_any_field_order_and_sorts_stably():
    tonic = np.zeros(4, [('t', '<i8'), ('x', '<i8'), ('y', '<i8'), ('p', '<i8')])
    tonic['t'] = [30, 10, 30, 20]
    tonic['x'] = [1, 2, 3, 4]
    tonic['y'] = [5, 6, 7, 8]
    tonic['p'] = [1, 0, 0, 1]
    out = as_events(tonic)
    # stable: the two events at t = 30 keep their order (x = 1 before x = 3)
    assert_events_equal(out, events_of([(2, 6, 10, 0), (4, 8, 20, 1), (1, 5, 30, 1),
                                        (3, 7, 30, 0)]))


def test_as_events_reads_minus_one_as_off():
    arr = np.zeros(2, [('x', 'u2'), ('y', 'u2'), ('t', 'u8'), ('p', 'i1')])
    arr['p'] = [-1, 1]
    arr['t'] = [0, 1]
    np.testing.assert_array_equal(as_events(arr)['p'], [False, True])


def test_as_events_rejects_bad_fields():
    arr = np.zeros(2, [('x', 'i8'), ('y', 'i8'), ('t', 'i8'), ('p', 'i8')])
    with pytest.raises(EventFileError, match=r"rec.npy: .*missing \['p'\]"):
        as_events(arr[['x', 'y', 't']], source='rec.npy')
    with pytest.raises(EventFileError, match='rec.npy: field t has dtype float64'):
        as_events(arr.astype([('x', 'i8'), ('y', 'i8'), ('t', 'f8'), ('p', 'i8')]),
                  source='rec.npy')
    arr['x'][1] = -3
    with pytest.raises(EventFileError, match=r'rec.npy: x ranges over \[-3, 0\]'):
        as_events(arr, source='rec.npy')


def test_as_events_rejects_unknown_polarity_codes():
    arr = np.zeros(3, [('x', 'i8'), ('y', 'i8'), ('t', 'i8'), ('p', 'i8')])
    arr['p'] = [0, 1, 2]
    with pytest.raises(EventFileError, match='rec.npy: polarity values'):
        as_events(arr, source='rec.npy')


def test_check_in_sensor_names_source_largest_x_y_and_size():
    ev = events_of([(3, 9, 0, 1), (40, 2, 1, 0)])
    assert check_in_sensor(ev, (41, 10)) is ev
    with pytest.raises(EventFileError) as err:
        check_in_sensor(ev, (34, 34, 2), source='a/b.bin')
    msg = str(err.value)
    assert 'a/b.bin' in msg and 'largest x = 40' in msg and 'largest y = 9' in msg
    assert '(34, 34)' in msg


# ---- AEDAT 4.0 ------------------------------------------------------------------------------

def _dv_write(path, rows, resolution):
    dv = pytest.importorskip('dv_processing')
    store = dv.EventStore()
    for x, y, t, p in rows:
        store.push_back(t, x, y, p)
    writer = dv.io.MonoCameraWriter(
        str(path), dv.io.MonoCameraWriter.EventOnlyConfig('test', resolution))
    writer.writeEvents(store)
    del writer


def test_aedat4_written_by_dv_processing_reads_back(tmp_path):
    pytest.importorskip('aedat')
    rng = np.random.default_rng(0)
    n = 5000
    want = np.zeros(n, EVENT_DTYPE)
    want['x'] = rng.integers(0, 346, n)
    want['y'] = rng.integers(0, 260, n)
    want['t'] = 1_600_000_000_000_000 + np.cumsum(rng.integers(0, 50, n))
    want['p'] = rng.random(n) < 0.5
    path = tmp_path / 'rec.aedat4'
    _dv_write(path, zip(*(want[k].tolist() for k in ('x', 'y', 't', 'p'))), (346, 260))
    assert detect_format(str(path)) == 'aedat4'
    assert_events_equal(read_events(path), want)
    # the resolution the file declares is checked: 346 x 260 holds these events, 300 x 260 not
    with pytest.raises(EventFileError, match='largest x = 345'):
        read_events(path, sensor_size=(300, 260))


def test_aedat4_events_outside_declared_resolution(tmp_path):
    pytest.importorskip('aedat')
    path = tmp_path / 'rec.aedat4'
    _dv_write(path, [(1, 2, 10, True), (130, 5, 11, False)], (128, 128))
    with pytest.raises(EventFileError, match='declared by the file.*largest x = 130'):
        read_events(path)


def test_write_events_aedat4_round_trip(tmp_path):
    pytest.importorskip('dv_processing')
    pytest.importorskip('aedat')
    want = events_of([(0, 0, 5, True), (127, 63, 9, False), (64, 1, 9, True)])
    path = write_events(tmp_path / 'w.aedat4', want, (128, 64))
    assert_events_equal(read_events(path), want)


@pytest.mark.parametrize('damage', ['truncate', 'flip', 'header_only', 'packet_boundary'])
def test_aedat4_corrupt_or_truncated_is_an_error(tmp_path, damage):
    pytest.importorskip('aedat')
    path = tmp_path / 'rec.aedat4'
    n = 20000
    _dv_write(path, [(i % 128, (i * 7) % 128, 3 * i, i % 3 == 0) for i in range(n)], (128, 128))
    data = path.read_bytes()
    if damage == 'truncate':
        data = data[:len(data) // 2]
    elif damage == 'flip':
        mid = len(data) // 2
        data = data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 64]) + data[mid + 64:]
    elif damage == 'header_only':
        data = b'#!AER-DAT4.0\r\n' + bytes(64)
    else:  # cut right after the first packet (8-byte header: stream id, size): decodes short
        io_size = struct.unpack_from('<I', data, 14)[0]
        first = 14 + 4 + io_size
        data = data[:first + 8 + struct.unpack_from('<i', data, first + 4)[0]]
    path.write_bytes(data)
    with pytest.raises(EventFileError, match='rec.aedat4: .*(truncated|corrupt)'):
        read_events(path)


# ---- AEDAT 3.1 (built from the published layout) --------------------------------------------

AEDAT31_HEADER = (b'#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 0: DVS128\r\n'
                  b'#Start-Time: 2017-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n')


def aedat31_packet(event_type, ts_overflow, events, source=0):
    """28-byte little-endian header + 8-byte events (data word, timestamp)."""
    n = len(events)
    head = struct.pack('<hhiiiiii', event_type, source, 8, 4, ts_overflow, n, n, n)
    return head + b''.join(struct.pack('<Ii', d, t) for d, t in events)


def polarity_word(x, y, p, valid=1):
    # bits 17-31 x, bits 2-16 y, bit 1 polarity, bit 0 valid mark
    return (x << 17) | (y << 2) | (p << 1) | valid


def test_aedat31_byte_exact(tmp_path):
    body = (aedat31_packet(1, 0, [(polarity_word(5, 100, 1), 1000),
                                  (polarity_word(127, 0, 0), 1500),
                                  (polarity_word(9, 9, 1, valid=0), 1600)])
            + aedat31_packet(0, 0, [(0x12345678, 1700), (1, 1800)])  # special events: skipped
            + aedat31_packet(1, 1, [(polarity_word(0, 127, 0), 7)]))
    path = tmp_path / 'user01_fluorescent.aedat'
    path.write_bytes(AEDAT31_HEADER + body)
    want = events_of([(5, 100, 1000, True), (127, 0, 1500, False),
                      (0, 127, (1 << 31) + 7, False)])
    assert detect_format(str(path)) == 'aedat3'
    assert_events_equal(read_events(path, sensor_size=(128, 128)), want)


@pytest.mark.parametrize('cut, message', [(3, 'truncated AEDAT 3.1 packet'),
                                          (20, 'truncated AEDAT 3.1 packet header')])
def test_aedat31_truncated(tmp_path, cut, message):
    data = AEDAT31_HEADER + aedat31_packet(1, 0, [(polarity_word(1, 1, 1), 1)] * 2)
    path = tmp_path / 'g.aedat'
    extra = aedat31_packet(1, 0, [(polarity_word(1, 1, 1), 2)])
    path.write_bytes(data + extra[:-cut] if cut == 3 else data + extra[:28 - cut])
    with pytest.raises(EventFileError, match=f'g.aedat: {message}'):
        read_events(path)


def test_aedat31_without_end_of_header(tmp_path):
    path = tmp_path / 'g.aedat'
    path.write_bytes(b'#!AER-DAT3.1\r\n#Format: RAW\r\n')
    with pytest.raises(EventFileError, match='g.aedat: the header has no #!END-HEADER line'):
        read_events(path)


def test_aedat31_only_invalid_events_is_empty(tmp_path):
    path = tmp_path / 'g.aedat'
    path.write_bytes(AEDAT31_HEADER + aedat31_packet(1, 0, [(polarity_word(1, 1, 1, 0), 5)]))
    with pytest.raises(EventFileError, match='g.aedat: the recording contains no events'):
        read_events(path)
    assert read_events(path, allow_empty=True).shape == (0, )


# ---- AEDAT 2.0 (DVS128 address layout) ------------------------------------------------------

AEDAT2_HEADER = b'#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n'


def dvs128_address(raw_x, raw_y, bit0):
    # bit 0 polarity (jAER: 0 = ON), bits 1-7 x, bits 8-14 y
    return (raw_y << 8) | (raw_x << 1) | bit0


def test_aedat2_dvs128_byte_exact(tmp_path):
    records = [(dvs128_address(0, 0, 0), 10),  # raw (0, 0) ON -> (127, 127)
               (dvs128_address(100, 20, 1), 20),  # OFF -> (27, 107)
               (0x8000, 25),  # external sync event: dropped
               (dvs128_address(127, 127, 0), 0xFFFFFFF0),
               (dvs128_address(3, 4, 1), 0x10)]  # after a wrap of the 32-bit counter
    body = b''.join(struct.pack('>Ii', a, t if t < 2**31 else t - 2**32) for a, t in records)
    path = tmp_path / 'cifar10_cat_0.aedat'
    path.write_bytes(AEDAT2_HEADER + body)
    want = events_of([(127, 127, 10, True), (27, 107, 20, False),
                      (0, 0, 0xFFFFFFF0, True), (124, 123, 2**32 + 0x10, False)])
    assert detect_format(str(path)) == 'aedat2'
    assert_events_equal(read_events(path), want)


def test_aedat2_truncated_and_foreign_layouts(tmp_path):
    path = tmp_path / 'c.aedat'
    path.write_bytes(AEDAT2_HEADER + struct.pack('>Ii', dvs128_address(1, 1, 0), 5) + b'\x00')
    with pytest.raises(EventFileError, match='c.aedat: truncated AEDAT 2.0 body of 9 bytes'):
        read_events(path)
    path.write_bytes(AEDAT2_HEADER + struct.pack('>Ii', 1 << 22, 5))
    with pytest.raises(EventFileError, match='c.aedat: address 0x00400000 uses bits above 15'):
        read_events(path)
    path.write_bytes(b'#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.Davis346B\r\n'
                     + struct.pack('>Ii', 0, 5))
    with pytest.raises(EventFileError, match='c.aedat: AEDAT 2.0 from .*Davis346B'):
        read_events(path)


# ---- ATIS .bin (N-MNIST / N-Caltech101) -----------------------------------------------------

def atis_record(x, y, p, ts):
    # 40 bits: 39-32 x, 31-24 y, 23 polarity, 22-0 timestamp
    return bytes([x, y, (p << 7) | (ts >> 16), (ts >> 8) & 0xFF, ts & 0xFF])


def test_atis_bin_byte_exact_with_overflow(tmp_path):
    data = (atis_record(0, 33, 1, 0x7FFFFF) + atis_record(12, 3, 0, 70000)
            + atis_record(0, 240, 0, 0)  # timestamp overflow marker
            + atis_record(33, 0, 1, 5))
    path = tmp_path / '00002.bin'
    path.write_bytes(data)
    want = events_of([(12, 3, 70000, False), (0, 33, 0x7FFFFF, True),
                      (33, 0, 2**23 + 5, True)])
    assert detect_format(str(path)) == 'atis_bin'
    assert_events_equal(read_events(path, sensor_size=(34, 34)), want)


def test_atis_bin_write_round_trip_over_several_overflows(tmp_path):
    want = events_of([(1, 2, 3, True), (33, 33, 2**23 + 1, False), (0, 0, 3 * 2**23 + 9, True)])
    path = write_events(tmp_path / 'w.bin', want, (34, 34))
    assert len(open(path, 'rb').read()) == 5 * (3 + 3)  # 3 events + 3 overflow records
    assert_events_equal(read_events(path), want)


def test_atis_bin_truncated_empty_and_outside(tmp_path):
    path = tmp_path / 'n.bin'
    path.write_bytes(atis_record(1, 1, 1, 1)[:4])
    with pytest.raises(EventFileError, match='n.bin: truncated ATIS .bin file of 4 bytes'):
        read_events(path)
    path.write_bytes(b'')
    with pytest.raises(EventFileError, match='n.bin: the recording contains no events'):
        read_events(path)
    path.write_bytes(atis_record(40, 2, 1, 1) + atis_record(3, 35, 0, 2))
    with pytest.raises(EventFileError, match=r'n.bin: 2 of 2 events lie outside.*'
                       r'largest x = 40, largest y = 35'):
        read_events(path, sensor_size=(34, 34))


# ---- numpy files ----------------------------------------------------------------------------

@pytest.mark.parametrize('dtype', [np.float64, np.int64])
def test_npy_n_by_4_x_y_p_t_ms(tmp_path, dtype):
    path = tmp_path / '1.npy'
    np.save(path, np.array([[3, 4, 1, 2], [127, 0, 0, 1]], dtype))
    assert_events_equal(read_events(path), events_of([(127, 0, 1000, False),
                                                      (3, 4, 2000, True)]))


def test_npy_n_by_4_fractional_milliseconds_and_bad_polarity(tmp_path):
    path = tmp_path / '1.npy'
    np.save(path, np.array([[3, 4, 1, 2.5]]))
    assert read_events(path)['t'].tolist() == [2500]
    np.save(path, np.array([[3, 4, 2, 2.5]]))
    with pytest.raises(EventFileError, match='1.npy: column 2 holds values other than 0/1'):
        read_events(path)
    np.save(path, np.zeros((3, 5)))
    with pytest.raises(EventFileError, match=r'1.npy: .npy array of shape \(3, 5\)'):
        read_events(path)


def test_structured_npy_and_npz_round_trip(tmp_path):
    want = events_of([(1, 2, 3, True), (4, 5, 6, False)])
    np.save(tmp_path / 'e.npy', want)
    assert_events_equal(read_events(tmp_path / 'e.npy'), want)
    path = write_events(tmp_path / 'e.npz', want[::-1], (8, 8))
    assert_events_equal(read_events(path), want)
    np.savez(tmp_path / 'cols.npz', t=want['t'], x=want['x'], y=want['y'],
             p=want['p'].astype(np.uint8))
    assert_events_equal(read_events(tmp_path / 'cols.npz'), want)


def test_npz_faults(tmp_path):
    np.savez(tmp_path / 'k.npz', frames=np.zeros(3))
    with pytest.raises(EventFileError, match=r"k.npz: .npz keys \['frames'\]"):
        read_events(tmp_path / 'k.npz')
    # the sensor size stored with the events is checked
    np.savez(tmp_path / 's.npz', events=events_of([(12, 1, 0, True)]), sensor_size=[10, 10])
    with pytest.raises(EventFileError, match='s.npz .*largest x = 12'):
        read_events(tmp_path / 's.npz')
    good = write_events(tmp_path / 'g.npz', events_of([(1, 1, 1, True)] * 100), (4, 4))
    data = open(good, 'rb').read()
    open(tmp_path / 't.npz', 'wb').write(data[:len(data) - 40])
    with pytest.raises(EventFileError, match='t.npz: truncated or corrupt .npz'):
        read_events(tmp_path / 't.npz')


# ---- detection and writer arguments ---------------------------------------------------------

def test_unknown_missing_and_unsupported_versions(tmp_path):
    path = tmp_path / 'x.evt'
    path.write_bytes(b'% Data file containing CD events\n')
    with pytest.raises(EventFileError, match='x.evt: unknown event file format'):
        read_events(path)
    path.write_bytes(b'#!AER-DAT3.0\r\n')
    with pytest.raises(EventFileError, match='x.evt: AEDAT version 3.0 has no reader'):
        read_events(path)
    with pytest.raises(FileNotFoundError, match='missing.bin'):
        read_events(tmp_path / 'missing.bin')


def test_write_events_checks_sensor_and_extension(tmp_path):
    ev = events_of([(40, 1, 0, True)])
    with pytest.raises(EventFileError, match='largest x = 40'):
        write_events(tmp_path / 'a.npz', ev, (34, 34))
    with pytest.raises(ValueError, match='extensions'):
        write_events(tmp_path / 'a.h5', ev, (64, 64))
    with pytest.raises(ValueError, match='ATIS .bin format holds'):
        write_events(tmp_path / 'a.bin', ev, (304, 240))
