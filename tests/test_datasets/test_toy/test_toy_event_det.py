"""The toy event detection set (mmsdt/datasets/toy/event_det.py): Gen1 layout read back by
the release readers and the data set class, boxes on the moving objects, determinism,
reuse, occlusion."""
import os

import numpy as np
import pytest

from mmsdt.datasets.events import read_events
from mmsdt.datasets.events.prophesee import read_prophesee_dat
from mmsdt.datasets.events.prophesee_boxes import BBOX_DTYPE, read_prophesee_boxes
from mmsdt.datasets.toy import event_det
from mmsdt.datasets.toy.event_det import (TOY_EVENT_DET_CLASSES, generate_toy_event_det,
                                          label_times_us, render_event_det_scene)
from mmsdt.datasets.toy.scene import image_rng

DURATION = 700_000  # labels at 100-700 ms: some after the protocol's 0.5 s skip
SMALL = dict(num_train=2, num_val=1, duration_us=DURATION)


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_event_det'))
    summary = generate_toy_event_det(root, **SMALL)
    return root, summary


def _files(root, split):
    folder = os.path.join(root, split)
    return sorted(os.listdir(folder)), folder


def test_layout_and_summary(toy_root):
    root, summary = toy_root
    assert summary['generated'] and summary['format'] == 'gen1'
    assert summary['classes'] == ['car', 'pedestrian'] and summary['sensor_size'] == (128, 96)
    for split, count in (('train', 2), ('val', 1)):
        names, _ = _files(root, split)
        assert names == sorted(f'{i:06d}{s}' for i in range(count)
                               for s in ('_td.dat', '_bbox.npy'))
        stats = summary['splits'][split]
        assert stats['recordings'] == count and stats['labels'] == count * 13
        assert stats['events'] > 0 and stats['boxes'] >= 3 * stats['labels']


def test_read_back_boxes_inside_and_on_moving_objects(toy_root):
    root, _ = toy_root
    width, height = 128, 96
    for split in ('train', 'val'):
        _, folder = _files(root, split)
        for name in ('000000', ):
            events = read_events(os.path.join(folder, name + '_td.dat'))
            _, declared = read_prophesee_dat(os.path.join(folder, name + '_td.dat'))
            assert tuple(declared) == (width, height)  # the header's geometry
            # read_prophesee_boxes raises on boxes outside the sensor or unsorted times
            boxes = read_prophesee_boxes(os.path.join(folder, name + '_bbox.npy'),
                                         sensor_size=(width, height))
            assert boxes.dtype == BBOX_DTYPE
            assert np.array_equal(np.unique(boxes['ts']), label_times_us(DURATION))
            assert set(np.unique(boxes['class_id'])) <= {0, 1}
            # every box passes the Gen1 protocol filter without rescaling
            assert np.all(np.hypot(boxes['w'], boxes['h']) >= 30)
            assert np.all(np.minimum(boxes['w'], boxes['h']) >= 10)
            assert events['t'].max() <= DURATION and np.all(np.diff(events['t']) >= 0)
            for box in boxes:  # events of the 50 ms before the label fall on each box
                inside = ((events['t'] > box['ts'] - 50_000) & (events['t'] <= box['ts']) &
                          (events['x'] >= box['x']) & (events['x'] < box['x'] + box['w']) &
                          (events['y'] >= box['y']) & (events['y'] < box['y'] + box['h']))
                assert inside.sum() >= 50, (split, name, box)
            # and the events of the last 50 ms fall where the objects were (each
            # object's hull of its boxes at the window's ends; the background is static)
            last = events[events['t'] > DURATION - 50_000]
            start, end = (boxes[boxes['ts'] == t] for t in (DURATION - 50_000, DURATION))
            assert np.array_equal(start['track_id'], end['track_id'])
            on_box = np.zeros(last.size, bool)
            for a, b in zip(start, end):
                x1, y1 = min(a['x'], b['x']) - 1, min(a['y'], b['y']) - 1
                x2 = max(a['x'] + a['w'], b['x'] + b['w']) + 1
                y2 = max(a['y'] + a['h'], b['y'] + b['h']) + 1
                on_box |= ((last['x'] >= x1) & (last['x'] < x2) & (last['y'] >= y1) &
                           (last['y'] < y2))
            # off the objects only shot noise: ~rate x pixels x 50 ms events
            noise = event_det.EMULATOR['shot_noise_hz'] * width * height * 0.05
            assert (~on_box).sum() < 2 * noise < on_box.sum() / 2


def test_read_back_through_the_dataset(toy_root):
    pytest.importorskip('mmdet')
    from mmsdt.datasets.events.prophesee_det import PropheseeDetDataset
    root, summary = toy_root
    dataset = PropheseeDetDataset(data_root=root, split='val', release='gen1',
                                  metainfo=dict(sensor_size=(128, 96)), test_mode=True,
                                  pipeline=[])
    assert len(dataset) == summary['splits']['val']['labels']
    info = dataset.get_data_info(0)
    assert info['recording'] == '000000' and info['timestamp'] == 100_000
    assert info['first_in_recording'] and tuple(info['sensor_size']) == (128, 96)
    boxes = read_prophesee_boxes(os.path.join(root, 'val', '000000_bbox.npy'))
    first = boxes[boxes['ts'] == 100_000]
    got = np.array([i['bbox'] for i in info['instances']])
    want = np.stack([first['x'], first['y'], first['x'] + first['w'],
                     first['y'] + first['h']], 1)
    assert np.allclose(np.sort(got, 0), np.sort(want, 0))
    assert sorted(i['bbox_label'] for i in info['instances']) == sorted(first['class_id'])


def test_same_arguments_same_bytes_other_seed_differs(tmp_path, toy_root):
    root, _ = toy_root
    again = str(tmp_path / 'again')
    generate_toy_event_det(again, **SMALL)
    other = str(tmp_path / 'other')
    generate_toy_event_det(other, seed=1, **SMALL)
    for name in ('000000_td.dat', '000000_bbox.npy', '000001_td.dat'):
        with open(os.path.join(root, 'train', name), 'rb') as f:
            reference = f.read()
        with open(os.path.join(again, 'train', name), 'rb') as f:
            assert f.read() == reference
        with open(os.path.join(other, 'train', name), 'rb') as f:
            assert f.read() != reference


def test_reuse_force_strays_and_missing(tmp_path):
    root = str(tmp_path / 'set')
    args = dict(num_train=2, num_val=0, duration_us=200_000)
    generate_toy_event_det(root, **args)
    path = os.path.join(root, 'train', '000000_td.dat')
    os.utime(path, (1, 1))
    reused = generate_toy_event_det(root, **args)
    assert not reused['generated'] and os.stat(path).st_mtime == 1
    assert generate_toy_event_det(root, force=True, **args)['generated']
    assert os.stat(path).st_mtime != 1
    # a smaller rerun (another marker) removes the recordings it no longer writes
    generate_toy_event_det(root, num_train=1, num_val=0, duration_us=200_000)
    assert sorted(os.listdir(os.path.join(root, 'train'))) == ['000000_bbox.npy',
                                                               '000000_td.dat']
    os.remove(path)
    with pytest.raises(OSError, match='000000_td.dat'):
        generate_toy_event_det(root, num_train=1, num_val=0, duration_us=200_000)


def test_occlusion_present_and_every_object_visible():
    occluded = 0
    for index in range(6):
        _, _, boxes, visible = render_event_det_scene(
            image_rng(0, 'event_det', 'train', index), duration_us=DURATION)
        assert visible.min() >= event_det.MIN_VISIBLE
        per_time = boxes.reshape(visible.shape)  # labels x objects, farthest first
        for t, i in zip(*np.nonzero(visible < 0.95)):
            occluded += 1
            box = per_time[t, i]
            nearer = per_time[t, i + 1:]  # a hidden part lies under a nearer object's box
            overlap = ((np.minimum(box['x'] + box['w'], nearer['x'] + nearer['w']) >
                        np.maximum(box['x'], nearer['x'])) &
                       (np.minimum(box['y'] + box['h'], nearer['y'] + nearer['h']) >
                        np.maximum(box['y'], nearer['y'])))
            assert overlap.any()
        assert np.all(visible[:, -1] == 1.0)  # the nearest object is never hidden
    assert occluded > 0


def test_classes_shapes_and_sizes():
    frames, times, boxes, _ = render_event_det_scene(image_rng(0, 'event_det', 'val', 0),
                                                     duration_us=DURATION)
    assert frames.shape == (DURATION // event_det.FRAME_US + 1, 96, 128)
    assert times[0] == 0 and times[-1] == DURATION
    assert TOY_EVENT_DET_CLASSES == ('car', 'pedestrian')
    for class_id, name in enumerate(TOY_EVENT_DET_CLASSES):
        (w_lo, w_hi), (h_lo, h_hi) = event_det.SIZES[name]
        mine = boxes[boxes['class_id'] == class_id]
        assert np.all((mine['w'] >= w_lo) & (mine['w'] <= w_hi))
        assert np.all((mine['h'] >= h_lo) & (mine['h'] <= h_hi))
    # the boxes enclose the rendered objects: object pixels (darkest shade 90 x 0.55) inside
    # every box centre, only background (brightest 35 x 1.25) a pixel away from all boxes
    for ts in np.unique(boxes['ts']):
        frame = frames[int(ts // event_det.FRAME_US)]
        off_boxes = np.ones(frame.shape, bool)
        for box in boxes[boxes['ts'] == ts]:
            cx, cy = int(box['x'] + box['w'] / 2), int(box['y'] + box['h'] / 2)
            assert frame[cy, cx] >= 49.5
            x1, y1 = max(int(box['x']) - 1, 0), max(int(box['y']) - 1, 0)
            x2, y2 = int(np.ceil(box['x'] + box['w'])) + 1, int(np.ceil(box['y'] + box['h'])) + 1
            off_boxes[y1:y2, x1:x2] = False
        assert frame[off_boxes].max() <= 35 * 1.25


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='num_train'):
        generate_toy_event_det(str(tmp_path), num_train=-1)
    with pytest.raises(ValueError, match='sensor'):
        generate_toy_event_det(str(tmp_path), width=32)
    with pytest.raises(ValueError, match='duration_us'):
        render_event_det_scene(np.random.default_rng(0), duration_us=120_000)
    with pytest.raises(ValueError, match='does not fit'):
        render_event_det_scene(np.random.default_rng(0), width=20, height=20)
