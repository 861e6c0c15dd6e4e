"""PropheseeDetDataset, LoadEventWindow, EventsToFrames(align='window'), PackEventDetInputs and
RecordingStreamSampler on small recordings built with numpy."""
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('mmdet')

from mmsdt.datasets.events import (EVENT_DTYPE, EventFileError, EventFramesError,  # noqa: E402
                                   EventsToFrames, LoadEventWindow, PackEventDetInputs,
                                   PropheseeDetDataset, write_events)
from mmsdt.datasets.events import event_window  # noqa: E402
from mmsdt.datasets.events.prophesee_boxes import BBOX_DTYPE, write_prophesee_boxes  # noqa
from mmsdt.datasets.samplers import RecordingStreamSampler  # noqa: E402
from mmsdt.datasets.samplers import recording_stream_sampler as sampler_module  # noqa: E402

SENSOR = (64, 48)  # (W, H)
WINDOW = 1000  # µs


def make_events(t, x=None, y=None, p=None):
    t = np.asarray(t, np.int64)
    events = np.zeros(len(t), EVENT_DTYPE)
    events['t'] = t
    events['x'] = 1 if x is None else x
    events['y'] = 2 if y is None else y
    events['p'] = True if p is None else p
    return events


def make_boxes(rows):
    """rows: (ts, x, y, w, h, class_id)."""
    boxes = np.zeros(len(rows), BBOX_DTYPE)
    for i, (ts, x, y, w, h, c) in enumerate(rows):
        boxes[i]['ts'], boxes[i]['x'], boxes[i]['y'] = ts, x, y
        boxes[i]['w'], boxes[i]['h'], boxes[i]['class_id'] = w, h, c
        boxes[i]['track_id'], boxes[i]['confidence'] = i, 1.0
    return boxes


def write_recording(folder, name, events, rows, ext='_td.npz'):
    folder.mkdir(parents=True, exist_ok=True)
    write_events(str(folder / f'{name}{ext}'), events, SENSOR)
    write_prophesee_boxes(str(folder / f'{name}_bbox.npy'), make_boxes(rows))


def infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def dataset(root, **kwargs):
    kwargs.setdefault('metainfo', dict(sensor_size=SENSOR))
    kwargs.setdefault('window_us', WINDOW)
    kwargs.setdefault('split', 'train')
    return PropheseeDetDataset(data_root=str(root), **kwargs)


@pytest.fixture
def two_recordings(tmp_path):
    """rec2: labels at 1500 (two boxes) and 3000; rec10: labels at 2000; rec5: no boxes."""
    folder = tmp_path / 'train'
    write_recording(folder, 'rec2', make_events(np.arange(0, 4000, 50)),
                    [(1500, 10, 5, 20, 10, 0), (1500, 30.5, 6, 4, 8, 1), (3000, 0, 0, 64, 48, 1)])
    write_recording(folder, 'rec10', make_events(np.arange(0, 3000, 100)),
                    [(2000, 1, 1, 2, 2, 1)])
    write_recording(folder, 'rec5', make_events([10, 20]), [])
    return tmp_path


def test_samples_boxes_and_flags(two_recordings):
    ds = dataset(two_recordings)
    assert ds.metainfo['classes'] == ('car', 'pedestrian')
    assert len(ds) == 3  # rec5 has no box: no sample
    rows = infos(ds)
    # natural order: rec2 before rec10; time order inside
    assert [(i['recording'], i['timestamp']) for i in rows] == [
        ('rec2', 1500), ('rec2', 3000), ('rec10', 2000)]
    assert [i['first_in_recording'] for i in rows] == [True, False, True]
    assert [i['sample_idx'] for i in rows] == [0, 1, 2]
    first = rows[0]
    assert first['event_file'].endswith('rec2_td.npz') and first['window_us'] == WINDOW
    assert first['sensor_size'] == SENSOR
    # (x, y, w, h) top-left -> xyxy, only the boxes with exactly that timestamp
    assert [b['bbox'] for b in first['instances']] == [[10, 5, 30, 15], [30.5, 6, 34.5, 14]]
    assert [b['bbox_label'] for b in first['instances']] == [0, 1]
    assert rows[1]['instances'][0]['bbox'] == [0, 0, 64, 48]


def test_window_slicing_boundaries(tmp_path):
    ts = 5000
    t = [ts - WINDOW - 1, ts - WINDOW, ts - WINDOW + 1, ts - 1, ts, ts + 1]
    write_recording(tmp_path / 'train', 'a', make_events(t), [(ts, 0, 0, 10, 10, 0)])
    results = LoadEventWindow()(dataset(tmp_path).get_data_info(0))
    # (ts - window, ts]: exclusive start, inclusive end
    assert results['events']['t'].tolist() == [ts - WINDOW + 1, ts - 1, ts]
    assert results['event_window'] == (ts - WINDOW, ts)


def test_frames_keep_true_time_order(tmp_path):
    ts = 10_000
    # ON events only in the first half of the window, OFF events only in the second half
    on = make_events(np.arange(ts - WINDOW + 1, ts - WINDOW // 2 + 1, 10), x=3, y=4, p=True)
    off = make_events(np.arange(ts - WINDOW // 2 + 1, ts + 1, 25), x=5, y=6, p=False)
    events = np.concatenate([on, off])
    write_recording(tmp_path / 'train', 'a', events, [(ts, 0, 0, 10, 10, 0)])
    info = dataset(tmp_path).get_data_info(0)
    results = EventsToFrames(num_bins=2, align='window')(LoadEventWindow()(info))
    img = results['img']
    assert img.shape == (2, 2, SENSOR[1], SENSOR[0])
    assert img[0, 1, 4, 3] == len(on) and img[0, 0].sum() == 0  # frame 0 = oldest: ON (ch 1)
    assert img[1, 0, 6, 5] == len(off) and img[1, 1].sum() == 0
    # bin edges: (t0 + k D / T, t0 + (k + 1) D / T], exact integer arithmetic
    edges = make_events([ts - 750, ts - 749, ts - 500, ts - 499, ts])
    frames = EventsToFrames(num_bins=4, align='window')(
        dict(events=edges, event_window=(ts - WINDOW, ts), sensor_size=SENSOR))['img']
    assert frames.sum(axis=(1, 2, 3)).tolist() == [1, 2, 1, 1]


def test_window_before_recording_start_and_empty_window(tmp_path):
    write_recording(tmp_path / 'train', 'a', make_events([0, 200, 5000, 9000]),
                    [(400, 0, 0, 10, 10, 0), (8000, 0, 0, 10, 10, 0)])
    pipeline = [LoadEventWindow(), EventsToFrames(num_bins=4, align='window'),
                PackEventDetInputs()]
    ds = dataset(tmp_path, pipeline=pipeline)
    early = LoadEventWindow()(ds.get_data_info(0))
    # ts = 400 < window: the window keeps its length; events from t = 0 are in it
    assert early['events']['t'].tolist() == [0, 200] and early['event_window'] == (-600, 400)
    frames = ds[0]['inputs']
    assert frames[:2].sum() == 0 and frames[2].sum() == 1 and frames[3].sum() == 1
    # (7000, 8000] holds no event: a valid all-zero input
    packed = ds[1]
    assert packed['inputs'].shape == (4, 2, SENSOR[1], SENSOR[0])
    assert packed['inputs'].abs().sum() == 0
    # the classification behaviour is unchanged: tonic's rules still refuse no events
    with pytest.raises(EventFramesError, match='no events'):
        EventsToFrames(num_bins=4)(dict(events=make_events([]), sensor_size=SENSOR))
    with pytest.raises(ValueError, match='num_bins'):
        EventsToFrames(time_window=10, align='window')


def test_pack_event_det_inputs(two_recordings):
    pipeline = [LoadEventWindow(), EventsToFrames(num_bins=2, align='window'),
                PackEventDetInputs()]
    packed = dataset(two_recordings, pipeline=pipeline)[0]
    assert packed['inputs'].dtype == torch.float32
    assert packed['inputs'].shape == (2, 2, SENSOR[1], SENSOR[0])
    sample = packed['data_samples']
    assert sample.gt_instances.bboxes.tensor.tolist() == [[10, 5, 30, 15], [30.5, 6, 34.5, 14]]
    assert sample.gt_instances.labels.tolist() == [0, 1]
    assert len(sample.ignored_instances) == 0
    meta = sample.metainfo
    assert meta['recording'] == 'rec2' and meta['timestamp'] == 1500
    assert meta['first_in_recording'] is True
    assert meta['img_shape'] == meta['ori_shape'] == (SENSOR[1], SENSOR[0])
    assert meta['scale_factor'] == (1.0, 1.0) and meta['num_frames'] == 2


def test_filter_empty_gt_train_only(tmp_path):
    # 1Mpx names, the 3 evaluated classes: a timestamp with only a truck has no target left
    write_recording(tmp_path / 'train', 'a', make_events(np.arange(0, 5000, 10)),
                    [(1000, 0, 0, 10, 10, 3), (2000, 0, 0, 10, 10, 2), (2000, 1, 1, 5, 5, 4),
                     (3000, 0, 0, 8, 8, 0)])
    subset = ('pedestrian', 'two wheeler', 'car')
    kwargs = dict(release='1mpx', metainfo=dict(classes=subset, sensor_size=SENSOR))
    test_ds = dataset(tmp_path, test_mode=True, filter_cfg=dict(filter_empty_gt=True), **kwargs)
    assert [i['timestamp'] for i in infos(test_ds)] == [1000, 2000, 3000]
    assert infos(test_ds)[0]['instances'] == []
    assert [b['bbox_label'] for b in infos(test_ds)[1]['instances']] == [2]  # car, bus gone
    assert [b['bbox_label'] for b in infos(test_ds)[2]['instances']] == [0]
    train_ds = dataset(tmp_path, filter_cfg=dict(filter_empty_gt=True), **kwargs)
    assert [i['timestamp'] for i in infos(train_ds)] == [2000, 3000]
    # the flag follows the samples that remain
    assert [i['first_in_recording'] for i in infos(train_ds)] == [True, False]
    with pytest.raises(ValueError, match="'cat'"):
        dataset(tmp_path, release='1mpx', metainfo=dict(classes=('cat', ), sensor_size=SENSOR))


def test_windows_read_without_decoding_per_sample(two_recordings, monkeypatch):
    calls = []
    real = event_window.read_events

    def counting(path, **kwargs):
        calls.append(path)
        return real(path, **kwargs)

    monkeypatch.setattr(event_window, 'read_events', counting)
    monkeypatch.setattr(event_window, '_OPEN', type(event_window._OPEN)())
    ds = dataset(two_recordings)
    for _ in range(3):
        for i in range(len(ds)):
            LoadEventWindow()(ds.get_data_info(i))
    assert sorted(osp.basename(p) for p in calls) == ['rec10_td.npz', 'rec2_td.npz']


def test_dat_recording_through_windowed_reader(tmp_path):
    ts = 3000
    t = [ts - WINDOW, ts - WINDOW + 1, ts, ts + 1]
    write_recording(tmp_path / 'train', 'a', make_events(t), [(ts, 0, 0, 10, 10, 1)],
                    ext='_td.dat')
    info = dataset(tmp_path).get_data_info(0)
    assert info['event_file'].endswith('a_td.dat')
    assert LoadEventWindow()(info)['events']['t'].tolist() == [ts - WINDOW + 1, ts]


@pytest.mark.parametrize('case, match', [
    ('no_events_file', r'b_bbox\.npy has no event file'),
    ('no_box_file', r'b_td\.npz has no box file'),
    ('outside_sensor', r'b_bbox\.npy \(events .*b_td\.npz\): 1 boxes lie outside'),
    ('class_id', r'b_bbox\.npy .*class_id 2 is outside'),
    ('flat_box', r'b_bbox\.npy .*w = 0\.0'),
    ('unsorted', r'b_bbox\.npy'),
])
def test_bad_inputs_at_listing_name_the_files(tmp_path, case, match):
    folder = tmp_path / 'train'
    write_recording(folder, 'a', make_events(np.arange(0, 5000, 10)), [(100, 0, 0, 5, 5, 0)])
    rows = {'outside_sensor': [(1000, 60, 0, 5, 5, 0)],  # x2 = 65 > W = 64
            'class_id': [(1000, 0, 0, 5, 5, 2)],  # Gen1 has classes 0 and 1
            'flat_box': [(1000, 0, 0, 0, 5, 0)],
            'unsorted': [(2000, 0, 0, 5, 5, 0), (1000, 0, 0, 5, 5, 0)]}.get(
                case, [(1000, 0, 0, 5, 5, 0)])
    write_recording(folder, 'b', make_events(np.arange(0, 5000, 10)), rows[:1])
    if case == 'unsorted':  # written past the validating writer
        np.save(str(folder / 'b_bbox.npy'), make_boxes(rows))
    if case == 'no_events_file':
        (folder / 'b_td.npz').unlink()
    elif case == 'no_box_file':
        (folder / 'b_bbox.npy').unlink()
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        dataset(tmp_path)


@pytest.mark.parametrize('events, match', [
    (make_events(np.arange(0, 5000, 10)), r'b_bbox\.npy \(events .*b_td\.npz\): labels reach '
     r'900000 µs but the events end at 4990 µs'),
    (make_events([]), r'b_bbox\.npy \(events .*b_td\.npz\): the event file holds no events'),
])
def test_labels_that_do_not_fit_the_events_name_both_files(tmp_path, events, match):
    write_recording(tmp_path / 'train', 'b', events, [(900_000, 0, 0, 5, 5, 0)])
    ds = dataset(tmp_path)  # listing reads box files only
    with pytest.raises(EventFileError, match=match):
        LoadEventWindow()(ds.get_data_info(0))
    # within the tolerance (500 ms by default) the pair is accepted
    write_recording(tmp_path / 'ok', 'c', make_events([10, 20]), [(500_020, 0, 0, 5, 5, 0)])
    info = dataset(tmp_path, split='ok').get_data_info(0)
    assert info['last_label_us'] == 500_020 and info['time_tolerance_us'] == 500_000
    assert LoadEventWindow()(info)['events'].size == 0


def test_clip_boxes_crops_to_the_sensor(tmp_path):
    write_recording(tmp_path / 'train', 'a', make_events(np.arange(0, 5000, 10)),
                    [(1000, 60, -3, 10, 10, 0), (1000, 0, 0, 0, 5, 1), (2000, 70, 0, 5, 5, 1)])
    ds = dataset(tmp_path, clip_boxes=True, test_mode=True)
    # the second box has no area, the third lies wholly outside: both dropped
    assert [i['timestamp'] for i in infos(ds)] == [1000]
    assert infos(ds)[0]['instances'][0]['bbox'] == [60, 0, 64, 7]


def test_events_outside_the_sensor_name_the_file(tmp_path):
    write_recording(tmp_path / 'train', 'a', make_events([100, 200], x=[1, 63]),
                    [(200, 0, 0, 5, 5, 0)])
    info = dataset(tmp_path, metainfo=dict(sensor_size=(32, 48))).get_data_info(0)
    with pytest.raises(ValueError, match=r'a_td\.npz window \(-800, 200\]'):
        LoadEventWindow()(info)


# ---- the streaming sampler ------------------------------------------------------------------

class FakeDataset:
    """Data infos of recordings with given numbers of samples (timestamps shuffled inside the
    list, so the sampler must sort them)."""

    def __init__(self, lengths):
        self.infos = []
        for r, n in enumerate(lengths):
            stamps = list(range(n))[::-1]
            for ts in stamps:
                self.infos.append(dict(recording=f'r{r}', timestamp=1000 * ts,
                                       first_in_recording=ts == 0))

    def __len__(self):
        return len(self.infos)

    def get_data_info(self, i):
        return dict(self.infos[i])


def stream_view(ds, indices):
    return [(ds.infos[i]['recording'], ds.infos[i]['timestamp'] // 1000,
             ds.infos[i]['first_in_recording']) for i in indices]


def test_sampler_one_stream_in_time_order(two_recordings):
    ds = dataset(two_recordings)
    sampler = RecordingStreamSampler(ds, seed=0)
    assert list(sampler) == [0, 1, 2] and len(sampler) == 3
    fake = FakeDataset([3, 2])
    view = stream_view(fake, RecordingStreamSampler(fake, seed=0))
    assert view == [('r0', 0, True), ('r0', 1, False), ('r0', 2, False), ('r1', 0, True),
                    ('r1', 1, False)]


def test_sampler_shuffles_recordings_not_time(two_recordings):
    fake = FakeDataset([2, 3, 1, 4, 2])
    sampler = RecordingStreamSampler(fake, shuffle=True, seed=3)
    orders = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        view = stream_view(fake, list(sampler))
        assert sorted(view) == sorted(stream_view(fake, range(len(fake))))  # each once
        for k, (rec, ts, first) in enumerate(view):  # consecutive, in time order
            assert first == (ts == 0)
            if ts:
                assert view[k - 1][:2] == (rec, ts - 1)
        orders.append([rec for rec, ts, _ in view if ts == 0])
    assert len({tuple(o) for o in orders}) > 1  # the epoch changes the order
    again = RecordingStreamSampler(fake, shuffle=True, seed=3)
    again.set_epoch(3)
    assert [rec for rec, ts, _ in stream_view(fake, again) if ts == 0] == orders[3]


def test_sampler_parallel_streams_are_batch_rows():
    fake = FakeDataset([3, 1, 2, 4])
    sampler = RecordingStreamSampler(fake, num_streams=2, seed=0)
    indices = list(sampler)
    # each recording goes to the stream with fewer samples: stream 0 = r0 (3) + r3 (4) = 7,
    # stream 1 = r1 (1) + r2 (2) = 3, padded to 7 steps by cycling its own recordings
    assert len(indices) == len(sampler) == 2 * 7
    rows = [stream_view(fake, indices[b::2]) for b in range(2)]  # batch_size 2: row b
    assert [(r, t) for r, t, _ in rows[0]] == [('r0', 0), ('r0', 1), ('r0', 2), ('r3', 0),
                                                ('r3', 1), ('r3', 2), ('r3', 3)]
    assert [(r, t) for r, t, _ in rows[1]] == [('r1', 0), ('r2', 0), ('r2', 1), ('r1', 0),
                                                ('r2', 0), ('r2', 1), ('r1', 0)]
    for row in rows:  # a row changes recording exactly where the sample is flagged
        assert row[0][2] is True
        for prev, cur in zip(row, row[1:]):
            assert cur[2] == (cur[0] != prev[0] or cur[1] != prev[1] + 1)


def test_sampler_ddp_split_whole_recordings(monkeypatch):
    fake = FakeDataset([2, 3, 1, 4, 2, 2])
    per_rank = []
    for rank in range(2):
        monkeypatch.setattr(sampler_module, 'get_dist_info', lambda rank=rank: (rank, 2))
        sampler = RecordingStreamSampler(fake, shuffle=True, seed=7)
        per_rank.append(stream_view(fake, list(sampler)))
    assert len(per_rank[0]) == len(per_rank[1])  # equal steps on both ranks
    recs = [{r for r, _, _ in view} for view in per_rank]
    assert not recs[0] & recs[1]  # whole recordings per rank
    assert recs[0] | recs[1] == {f'r{i}' for i in range(6)}
    for view in per_rank:
        assert view[0][2] is True
    monkeypatch.setattr(sampler_module, 'get_dist_info', lambda: (0, 4))
    with pytest.raises(ValueError, match='2 recordings for 4 rank'):
        RecordingStreamSampler(FakeDataset([1, 1]), seed=0)


def test_sampler_builds_from_config_and_checks_flags(two_recordings):
    from mmengine.registry import DATA_SAMPLERS

    ds = dataset(two_recordings)
    sampler = DATA_SAMPLERS.build(dict(type='mmsdt.RecordingStreamSampler'),
                                  default_args=dict(dataset=ds, seed=0))
    assert isinstance(sampler, RecordingStreamSampler)
    bad = FakeDataset([2])
    bad.infos[0]['first_in_recording'] = True  # ts 1 flagged as a start
    with pytest.raises(ValueError, match='recording r0: first_in_recording'):
        RecordingStreamSampler(bad, seed=0)
    with pytest.raises(ValueError, match='num_streams=1'):
        RecordingStreamSampler(ds, num_streams=2, round_up=False, seed=0)
