"""Event transforms: EventsToFrames against hand-binned counts (tonic's ToFrame slicing rules,
``../shared/reference/dvs.md`` section 5.4, with the expected counts worked out by hand in each
test), the spatial frame augmentations, EventDrop, the denoise filters and PackEventInputs."""
import cv2
import numpy as np
import pytest
import torch

from mmsdt.datasets.events.augment import (EventCenterCrop, EventRandomCrop, EventRandomFlip,
                                           EventResize)
from mmsdt.datasets.events.denoise import EventDenoise, EventRefractory
from mmsdt.datasets.events.drop import EventDrop
from mmsdt.datasets.events.frames import EventsToFrames
from mmsdt.datasets.events.packing import PackEventInputs

DTYPE = np.dtype([('x', '<i2'), ('y', '<i2'), ('t', '<i8'), ('p', '?')])  # common29 contract


def events(rows):
    """Events from (x, y, t, p) rows."""
    return np.array([tuple(r) for r in rows], DTYPE)


def results(evs, sensor_size=(4, 3), path='rec/a.npz'):
    return dict(events=evs, sensor_size=sensor_size, events_path=path)


def frames(evs, sensor_size=(4, 3), **kwargs):
    return EventsToFrames(**kwargs)(results(evs, sensor_size))['img']


# ---------------------------------------------------------------- EventsToFrames, hand-binned


def test_num_bins_equal_duration_half_open_and_last_event_dropped():
    # t_first 0, t_last 100, T 4 -> window 25: [0,25) [25,50) [50,75) [75,100); t = 100 is in
    # no bin (tonic's n_time_bins drops it)
    evs = events([(0, 0, 0, 1), (1, 0, 10, 1), (1, 0, 20, 0), (2, 1, 35, 1), (2, 1, 49, 1),
                  (3, 2, 50, 0), (0, 2, 99, 1), (3, 0, 100, 1)])
    out = EventsToFrames(num_bins=4)(results(evs))
    img = out['img']
    assert img.dtype == np.float32 and img.shape == (4, 2, 3, 4)
    assert out['num_frames'] == 4 and out['img_shape'] == (3, 4)
    expected = np.zeros((4, 2, 3, 4), np.float32)
    expected[0, 1, 0, 0] = 1  # t 0, ON at (x0, y0)
    expected[0, 1, 0, 1] = 1  # t 10
    expected[0, 0, 0, 1] = 1  # t 20, OFF
    expected[1, 1, 1, 2] = 2  # t 35 and 49 at (x2, y1)
    expected[2, 0, 2, 3] = 1  # t 50
    expected[3, 1, 2, 0] = 1  # t 99
    np.testing.assert_array_equal(img, expected)


def test_num_bins_window_is_floored_and_starts_at_the_first_event():
    # duration 10, T 3 -> window 10 // 3 = 3: [1000,1003) [1003,1006) [1006,1009); 1010 out
    evs = events([(0, 0, 1000, 1), (1, 0, 1003, 1), (2, 0, 1006, 1), (3, 0, 1010, 1)])
    counts = frames(evs, num_bins=3)[:, 1, 0]
    np.testing.assert_array_equal(counts, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    tail = frames(evs, num_bins=3, include_tail=True)[:, 1, 0]  # the tail joins bin 2
    np.testing.assert_array_equal(tail, [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]])


def test_event_bins_equal_counts_and_remainder_dropped():
    # 7 events, T 3 -> 7 // 3 = 2 events per bin; event 6 is in no bin
    evs = events([(i % 4, 0, 10 * i, 1) for i in range(7)])
    counts = frames(evs, event_bins=3)[:, 1, 0]
    np.testing.assert_array_equal(counts, [[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0]])
    tail = frames(evs, event_bins=3, include_tail=True)[:, 1, 0]
    np.testing.assert_array_equal(tail, [[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 0]])


def test_time_window_number_of_frames_depends_on_the_recording():
    # window 10, duration 22: floor((22 - 10) / 10) + 1 = 2 frames; ceil gives 3
    evs = events([(0, 0, 0, 1), (1, 0, 5, 1), (2, 0, 10, 1), (3, 0, 15, 1), (0, 1, 22, 1)])
    img = frames(evs, time_window=10)
    assert img.shape[0] == 2
    np.testing.assert_array_equal(img[:, 1, 0], [[1, 1, 0, 0], [0, 0, 1, 1]])
    assert img[:, :, 1].sum() == 0  # t 22 dropped
    img = frames(evs, time_window=10, include_incomplete=True)
    assert img.shape[0] == 3 and img[2, 1, 1, 0] == 1 and img[2].sum() == 1
    # a recording shorter than the window gives one frame with every event
    assert frames(evs, time_window=1000).shape[0] == 1


def test_event_count_groups_of_n_events():
    # 5 events, 2 per frame: floor((5 - 2) / 2) + 1 = 2 frames; ceil gives 3
    evs = events([(i, 0, i, 1) for i in range(4)] + [(0, 2, 9, 0)])
    img = frames(evs, event_count=2)
    np.testing.assert_array_equal(img[:, 1, 0], [[1, 1, 0, 0], [0, 0, 1, 1]])
    assert img.sum() == 4
    img = frames(evs, event_count=2, include_incomplete=True)
    assert img.shape[0] == 3 and img[2, 0, 2, 0] == 1 and img[2].sum() == 1


def test_polarity_channels_merge_and_value_modes():
    # three ON and one OFF event at (x1, y2) in a single bin (T 1)
    evs = events([(1, 2, 0, 1), (1, 2, 1, 1), (1, 2, 2, 1), (1, 2, 3, 0), (0, 0, 10, 1)])
    assert frames(evs, num_bins=1)[0, :, 2, 1].tolist() == [1, 3]
    merged = frames(evs, num_bins=1, polarities=1)
    assert merged.shape == (1, 1, 3, 4) and merged[0, 0, 2, 1] == 4
    assert frames(evs, num_bins=1, value='binary')[0, :, 2, 1].tolist() == [1, 1]
    assert frames(evs, num_bins=1, value='clamp', clamp_max=2)[0, :, 2, 1].tolist() == [1, 2]


def test_non_square_sensor_puts_x_on_the_last_axis():
    # sensor (W, H) = (5, 2): frames (T, P, 2, 5); an event at x 4, y 1
    img = frames(events([(4, 1, 0, 1), (0, 0, 10, 1)]), sensor_size=(5, 2), num_bins=1)
    assert img.shape == (1, 2, 2, 5) and img[0, 1, 1, 4] == 1


def test_unsorted_events_give_the_sorted_frames():
    evs = events([(0, 0, 0, 1), (1, 0, 10, 1), (2, 0, 20, 1), (3, 0, 40, 1)])
    np.testing.assert_array_equal(frames(evs[::-1].copy(), num_bins=2), frames(evs, num_bins=2))


def test_empty_recording_is_an_error_naming_the_file():
    with pytest.raises(ValueError, match='rec/a.npz: the recording holds no events'):
        EventsToFrames(num_bins=4)(results(events([])))


def test_clip_shorter_than_t_is_an_error_naming_the_file():
    evs = events([(0, 0, 0, 1), (1, 0, 3, 1)])  # 3 µs, 2 events
    with pytest.raises(ValueError, match=r'rec/a.npz: the recording spans 3 µs, shorter than '
                       r'num_bins=4'):
        EventsToFrames(num_bins=4)(results(evs))
    with pytest.raises(ValueError, match='rec/a.npz: 2 events, fewer than event_bins=4'):
        EventsToFrames(event_bins=4)(results(evs))


def test_events_outside_the_sensor_name_the_file_and_the_largest_x_y():
    with pytest.raises(ValueError, match=r'rec/a.npz: .*largest x = 7, largest y = 1'):
        EventsToFrames(num_bins=1)(results(events([(7, 1, 0, 1), (0, 0, 5, 1)])))


def test_missing_sensor_size_and_bad_arguments_are_errors():
    with pytest.raises(ValueError, match='rec/a.npz: no sensor_size'):
        EventsToFrames(num_bins=1)(dict(events=events([(0, 0, 0, 1)]), events_path='rec/a.npz'))
    with pytest.raises(ValueError, match='sensor_size .* = \\(4, 3\\) but the transform was '
                       'given \\(8, 8\\)'):
        EventsToFrames(num_bins=1, sensor_size=(8, 8))(results(events([(0, 0, 0, 1)])))
    with pytest.raises(ValueError, match='exactly one of'):
        EventsToFrames(num_bins=2, time_window=10)
    with pytest.raises(ValueError, match='exactly one of'):
        EventsToFrames()
    with pytest.raises(ValueError, match='needs clamp_max'):
        EventsToFrames(num_bins=2, value='clamp')
    with pytest.raises(ValueError, match='include_tail applies'):
        EventsToFrames(time_window=10, include_tail=True)


# ---------------------------------------------------------------- spatial augmentations


def _numbered_frames(t=3, p=2, h=6, w=8):
    return np.arange(t * p * h * w, dtype=np.float32).reshape(t, p, h, w)


def test_horizontal_flip_mirrors_x_to_w_minus_1_minus_x():
    evs = events([(1, 2, 0, 1), (3, 0, 100, 0)])  # sensor W 4 -> x 1 -> 2, x 3 -> 0
    framed = EventsToFrames(num_bins=1)(results(evs))
    flipped = EventRandomFlip(prob=1.)(framed)
    assert flipped['flip'] and flipped['flip_direction'] == 'horizontal'
    assert flipped['img'][0, 1, 2, 2] == 1 and flipped['img'].sum() == 1
    # flipping the events before framing gives the same frames
    on_events = EventRandomFlip(prob=1.)(results(evs.copy()))
    assert on_events['events']['x'].tolist() == [2, 0]
    np.testing.assert_array_equal(EventsToFrames(num_bins=1)(on_events)['img'], flipped['img'])


def test_vertical_flip_and_no_flip():
    img = _numbered_frames()
    out = EventRandomFlip(prob=1., direction='vertical')(dict(img=img.copy()))
    np.testing.assert_array_equal(out['img'], img[:, :, ::-1])
    out = EventRandomFlip(prob=0.)(dict(img=img.copy()))
    assert not out['flip']
    np.testing.assert_array_equal(out['img'], img)


def test_flip_is_the_same_for_every_frame_of_a_sample():
    np.random.seed(0)
    img = _numbered_frames(t=4)
    for _ in range(10):
        out = EventRandomFlip(prob=0.5)(dict(img=img.copy()))['img']
        want = img[..., ::-1] if not np.array_equal(out[0], img[0]) else img
        np.testing.assert_array_equal(out, want)  # all four frames flipped, or none


def test_random_crop_takes_one_window_for_all_frames():
    np.random.seed(1)
    img = _numbered_frames()
    for _ in range(5):
        out = EventRandomCrop(crop_size=(4, 5))(dict(img=img.copy(), events_path='r.npz'))
        left, top, right, bottom = out['crop_bbox']
        assert out['img'].shape == (3, 2, 4, 5) and out['img_shape'] == (4, 5)
        np.testing.assert_array_equal(out['img'], img[..., top:bottom, left:right])
    with pytest.raises(ValueError, match=r'r.npz: frames of 6x8 \(HxW\) are smaller than the '
                       r'crop 7x5'):
        EventRandomCrop(crop_size=(7, 5))(dict(img=img, events_path='r.npz'))


def test_center_crop():
    img = _numbered_frames()
    out = EventCenterCrop(crop_size=4)(dict(img=img))
    np.testing.assert_array_equal(out['img'], img[..., 1:5, 2:6])


def test_resize_area_averages_blocks_and_nearest_keeps_counts():
    img = _numbered_frames(t=2, p=2, h=4, w=4)
    out = EventResize(size=(2, 2), interpolation='area')(dict(img=img.copy()))
    blocks = img.reshape(2, 2, 2, 2, 2, 2).mean(axis=(3, 5))  # mean of each 2x2 block
    assert out['img'].shape == (2, 2, 2, 2) and out['img_shape'] == (2, 2)
    np.testing.assert_allclose(out['img'], blocks, rtol=1e-6)
    near = EventResize(size=(2, 2), interpolation='nearest')(dict(img=img.copy()))['img']
    assert set(np.unique(near)) <= set(np.unique(img))  # copies input pixels
    out = EventResize(size=(8, 6))(dict(img=img.copy()))
    assert out['img'].shape == (2, 2, 8, 6) and out['img'].dtype == np.float32
    # T * P = 160 planes, more than OpenCV takes in one call; a non-integer scale
    many = _numbered_frames(t=80, p=2, h=4, w=4)
    out = EventResize(size=2)(dict(img=many.copy()))['img']
    np.testing.assert_allclose(out, many.reshape(80, 2, 2, 2, 2, 2).mean(axis=(3, 5)),
                               rtol=1e-6)
    out = EventResize(size=3)(dict(img=many.copy()))['img']
    assert out.shape == (80, 2, 3, 3)
    np.testing.assert_allclose(out[17, 1], cv2.resize(many[17, 1], (3, 3),
                                                      interpolation=cv2.INTER_AREA))


def test_frame_transforms_need_frames():
    with pytest.raises(ValueError, match=r'r.npz: expected frames \(T, P, H, W\)'):
        EventCenterCrop(2)(dict(img=np.zeros((4, 4), np.float32), events_path='r.npz'))


# ---------------------------------------------------------------- EventDrop


def _grid_events(w=10, h=10):
    return events([(x, y, 1000 + y * w + x, 1) for y in range(h) for x in range(w)])


def test_drop_by_area_removes_one_rectangle():
    np.random.seed(3)
    evs = _grid_events()
    for _ in range(5):
        out = EventDrop(modes=('area', ), area_ratio=0.25)(results(evs, sensor_size=(10, 10)))
        kept = {(int(e['x']), int(e['y'])) for e in out['events']}
        dropped = {(x, y) for x in range(10) for y in range(10)} - kept
        xs, ys = {x for x, _ in dropped}, {y for _, y in dropped}
        assert len(xs) == 5 and len(ys) == 5  # a 5x5 box = 0.25 of the sensor area
        assert dropped == {(x, y) for x in xs for y in ys}  # a rectangle, not a cross
        assert max(xs) - min(xs) == 4 and max(ys) - min(ys) == 4


def test_drop_by_time_removes_one_interval_inside_the_recording():
    np.random.seed(4)
    evs = events([(0, 0, t, 1) for t in range(5000, 6000)])  # starts at 5000 µs, not 0
    out = EventDrop(modes=('time', ), time_ratio=0.2)(results(evs))
    dropped = np.setdiff1d(evs['t'], out['events']['t'])
    assert 199 <= len(dropped) <= 201  # 0.2 of 999 µs at one event per µs
    assert dropped.max() - dropped.min() == len(dropped) - 1  # contiguous


def test_random_drop_count_and_order():
    np.random.seed(5)
    evs = _grid_events()
    out = EventDrop(modes=('random', ), drop_ratio=0.3)(results(evs, sensor_size=(10, 10)))
    assert len(out['events']) == 70 and np.all(np.diff(out['events']['t']) > 0)


def test_drop_that_would_empty_the_sample_keeps_it():
    evs = events([(0, 0, 0, 1)])
    out = EventDrop(modes=('random', ), drop_ratio=0.9)(results(evs))
    assert len(out['events']) == 1 and out['event_drop'] == 'identity'


def test_drop_ratio_ranges_are_checked():
    with pytest.raises(ValueError, match='area_ratio'):
        EventDrop(area_ratio=(0.5, 0.2))
    with pytest.raises(ValueError, match='modes'):
        EventDrop(modes=('cross', ))


# ---------------------------------------------------------------- denoise


def _ba_reference(evs, width, height, filter_time, neighbourhood):
    """Per-event loop: support from an earlier event at a neighbouring pixel."""
    keep = []
    for i, e in enumerate(evs):
        ok = False
        for j in range(i):
            dx, dy = abs(int(evs[j]['x']) - int(e['x'])), abs(int(evs[j]['y']) - int(e['y']))
            near = (dx + dy == 1) if neighbourhood == 4 else (max(dx, dy) == 1)
            ok |= near and e['t'] - evs[j]['t'] <= filter_time
        keep.append(ok)
    return np.array(keep)


def test_background_activity_filter_by_hand():
    evs = events([(5, 5, 0, 1),      # no earlier neighbour: dropped
                  (6, 5, 100, 1),    # (5, 5) 100 µs before: kept
                  (0, 0, 150, 1),    # isolated: dropped
                  (9, 9, 200, 1), (9, 9, 210, 1),  # same pixel is no support: both dropped
                  (2, 2, 300, 1), (3, 3, 310, 1),  # diagonal: kept with 8, not with 4
                  (5, 5, 5000, 1)])  # (6, 5) 4900 µs before: dropped
    out = EventDenoise(filter_time=1000)(results(evs, sensor_size=(10, 10)))
    assert out['events']['t'].tolist() == [100, 310]
    out = EventDenoise(filter_time=1000, neighbourhood=4)(results(evs, sensor_size=(10, 10)))
    assert out['events']['t'].tolist() == [100]


def test_background_activity_filter_equals_the_per_event_loop():
    rng = np.random.default_rng(0)
    n = 300
    evs = events(zip(rng.integers(0, 6, n), rng.integers(0, 5, n),
                     np.sort(rng.integers(0, 20000, n)), rng.integers(0, 2, n)))
    for neighbourhood in (4, 8):
        want = _ba_reference(evs, 6, 5, 500, neighbourhood)
        out = EventDenoise(500, neighbourhood)(results(evs.copy(), sensor_size=(6, 5)))
        np.testing.assert_array_equal(out['events'], evs[want])


def test_refractory_by_hand_dropped_events_do_not_extend_the_dead_time():
    # pixel (1, 1): 0 kept, 50 dropped, 100 dropped (t - 0 <= 100), 120 kept (120 - 0 > 100;
    # 50 would have blocked it if dropped events counted), 130 dropped, 260 kept;
    # pixel (2, 1) interleaved, independent
    evs = events([(1, 1, 0, 1), (2, 1, 10, 0), (1, 1, 50, 0), (1, 1, 100, 1), (2, 1, 105, 1),
                  (1, 1, 120, 1), (1, 1, 130, 0), (1, 1, 260, 1)])
    out = EventRefractory(period=100)(results(evs))
    assert out['events']['t'].tolist() == [0, 10, 120, 260]


def test_refractory_equals_the_per_event_loop():
    rng = np.random.default_rng(1)
    n = 400
    evs = events(zip(rng.integers(0, 3, n), rng.integers(0, 2, n),
                     np.sort(rng.integers(0, 5000, n)), rng.integers(0, 2, n)))
    last, want = {}, []
    for e in evs:
        pixel = (int(e['x']), int(e['y']))
        ok = pixel not in last or e['t'] - last[pixel] > 150
        if ok:
            last[pixel] = e['t']
        want.append(ok)
    out = EventRefractory(period=150)(results(evs.copy()))
    np.testing.assert_array_equal(out['events'], evs[np.array(want)])


def test_denoise_that_removes_everything_is_an_error():
    with pytest.raises(ValueError, match='rec/a.npz: EventDenoise.*removed all 1 events'):
        EventDenoise(100)(results(events([(0, 0, 0, 1)])))


# ---------------------------------------------------------------- PackEventInputs


def test_pack_event_inputs():
    evs = events([(0, 0, 0, 1), (1, 1, 10, 0), (2, 2, 20, 1)])
    out = EventsToFrames(num_bins=2)(dict(results(evs), gt_label=3, sample_idx=7))
    packed = PackEventInputs()(out)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(inputs, torch.Tensor) and inputs.dtype == torch.float32
    assert inputs.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(inputs.numpy(), out['img'])
    assert sample.gt_label.tolist() == [3]
    assert sample.events_path == 'rec/a.npz' and sample.num_frames == 2
    assert sample.sample_idx == 7 and tuple(sample.sensor_size) == (4, 3)
    with pytest.raises(ValueError, match=r'r.npz: expected frames \(T, P, H, W\)'):
        PackEventInputs()(dict(img=np.zeros((2, 4, 4), np.float32), events_path='r.npz'))


# ---------------------------------------------------------------- registered names


def test_pipeline_from_an_mmpretrain_config_and_the_preprocessor():
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope

    import mmsdt.models  # noqa: F401
    from mmpretrain.registry import MODELS
    rng = np.random.default_rng(2)
    n = 500
    evs = events(zip(rng.integers(0, 16, n), rng.integers(0, 12, n),
                     np.sort(rng.integers(0, 10000, n)), rng.integers(0, 2, n)))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([
            dict(type='mmsdt.EventRefractory', period=50),
            dict(type='mmsdt.EventDrop'),
            dict(type='mmsdt.EventsToFrames', num_bins=4),
            dict(type='mmsdt.EventRandomFlip', prob=0.5),
            dict(type='mmsdt.EventRandomCrop', crop_size=(10, 14)),
            dict(type='mmsdt.EventResize', size=8),
            dict(type='mmsdt.PackEventInputs'),
        ])
        pre = MODELS.build(dict(type='mmsdt.EventDataPreprocessor', num_frames=4))
    batch = [pipeline(dict(results(evs.copy(), sensor_size=(16, 12), path=f'r{i}.npz'),
                           gt_label=i)) for i in range(2)]
    out = pre(dict(inputs=[b['inputs'] for b in batch],
                   data_samples=[b['data_samples'] for b in batch]))
    assert out['inputs'].shape == (2, 4, 2, 8, 8)
    assert [s.events_path for s in out['data_samples']] == ['r0.npz', 'r1.npz']
