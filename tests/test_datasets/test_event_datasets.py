"""The event-camera data sets (mmsdt/datasets/events/{dvs_gesture,cifar10_dvs,nmnist,hardvs}.py)
and their loading steps (loading.py) on tiny fake release trees built in tmp_path.

Each tree follows the release's published layout (the README of configs/e-spikeformer/dvs
shows them); listing reads names only, so recordings are empty files unless a test decodes them.
"""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmsdt.datasets.events.cifar10_dvs import CIFAR10DVS
from mmsdt.datasets.events.dvs_gesture import DVS128Gesture
from mmsdt.datasets.events.hardvs import HARDVS
from mmsdt.datasets.events.layout import EVENT_DTYPE, EventFileError
from mmsdt.datasets.events.loading import LoadEvents, LoadHARDVSFrames
from mmsdt.datasets.events.nmnist import NMNIST


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'')
    return path


# DVS128 Gesture ---------------------------------------------------------------------------

def gesture_original(root, train=('user01_fluorescent', 'user23_led'),
                     test=('user24_lab', ), rows=((1, 100, 200), (11, 300, 450))):
    """IBM's DvsGesture folder: trials lists, empty .aedat files, label csvs."""
    root.mkdir(parents=True, exist_ok=True)
    for split, trials in (('train', train), ('test', test)):
        (root / f'trials_to_{split}.txt').write_text(
            ''.join(f'{t}.aedat\n' for t in trials) + '\n')
        for trial in trials:
            touch(root / f'{trial}.aedat')
            (root / f'{trial}_labels.csv').write_text(
                'class,startTime_usec,endTime_usec\n'
                + ''.join(f'{c},{s},{e}\n' for c, s, e in rows))
    return root


def test_gesture_original_release_one_sample_per_labelled_interval(tmp_path):
    root = gesture_original(tmp_path / 'DvsGesture')
    train = DVS128Gesture(str(root), split='train')
    assert train.resolved_layout() == 'original'
    assert len(train) == 4  # 2 trials x 2 intervals
    info = train.get_data_info(1)
    assert info['events_path'] == str(root / 'user01_fluorescent.aedat')
    assert (info['gt_label'], info['t_start'], info['t_end']) == (10, 300, 450)  # class 11
    assert info['sensor_size'] == (128, 128)
    assert (info['user'], info['lighting']) == (1, 'fluorescent')
    test = DVS128Gesture(str(root), split='test')
    assert [test.get_data_info(i)['user'] for i in range(len(test))] == [24, 24]
    assert len(train.metainfo['classes']) == 11


def test_gesture_user_split_leak_is_an_error(tmp_path):
    root = gesture_original(tmp_path / 'DvsGesture', train=('user01_natural', 'user24_lab'))
    with pytest.raises(ValueError, match=r'trials_to_train.txt: user 24 is not a train user'):
        DVS128Gesture(str(root), split='train')
    assert len(DVS128Gesture(str(root), split='train', check_user_split=False)) == 4


def test_gesture_label_csv_faults_name_file_and_line(tmp_path):
    root = gesture_original(tmp_path / 'a', rows=((1, 0, 10), (12, 10, 20)))
    with pytest.raises(ValueError, match=r'user01_fluorescent_labels.csv line 3 \(class id '
                                         r'12\) is outside the class list \(0..10\)'):
        DVS128Gesture(str(root))
    root = gesture_original(tmp_path / 'b', rows=((1, 50, 50), ))
    with pytest.raises(ValueError, match=r'labels.csv line 2: end time 50 is not after'):
        DVS128Gesture(str(root))
    root = gesture_original(tmp_path / 'c')
    (root / 'user23_led.aedat').unlink()
    with pytest.raises(FileNotFoundError, match=r'user23_led.aedat \(listed in .*'
                                                r'trials_to_train.txt\) does not exist'):
        DVS128Gesture(str(root))


def test_gesture_tonic_layout_labels_from_file_names(tmp_path):
    root = tmp_path / 'DVSGesture'
    for trial in ('user02_led', 'user10_lab'):
        for label in (10, 2, 0):
            touch(root / 'ibmGestureTrain' / trial / f'{label}.npy')
    touch(root / 'ibmGestureTest' / 'user29_natural' / '5.npy')
    train = DVS128Gesture(str(root), split='train')
    assert train.resolved_layout() == 'tonic'
    infos = [train.get_data_info(i) for i in range(len(train))]
    assert [i['gt_label'] for i in infos] == [0, 2, 10, 0, 2, 10]  # numeric, not '10' < '2'
    assert infos[3]['events_path'] == str(root / 'ibmGestureTrain' / 'user10_lab' / '0.npy')
    assert len(DVS128Gesture(str(root), split='test', layout='tonic')) == 1

    touch(root / 'ibmGestureTrain' / 'user02_led' / '11.npy')
    with pytest.raises(ValueError, match=r'user02_led/11.npy is outside the class list'):
        DVS128Gesture(str(root), split='train')


def test_gesture_missing_layout_or_empty_split_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f'{tmp_path} holds neither the original'):
        DVS128Gesture(str(tmp_path), split='train')
    (tmp_path / 'ibmGestureTest').mkdir()
    with pytest.raises(ValueError, match=r'the test split is empty \(.*ibmGestureTest holds'):
        DVS128Gesture(str(tmp_path), split='test')


# CIFAR10-DVS ------------------------------------------------------------------------------

def cifar_tree(root, per_class=20, ext='.aedat4'):
    for name in CIFAR10DVS.METAINFO['classes']:
        for i in range(per_class):
            touch(root / name / f'cifar10_{name}_{i}{ext}')
    return root


def test_cifar10_dvs_split_is_the_last_tenth_in_numeric_order(tmp_path):
    root = cifar_tree(tmp_path / 'CIFAR10DVS')
    train = CIFAR10DVS(str(root), split='train')
    test = CIFAR10DVS(str(root), split='test')
    assert (len(train), len(test)) == (180, 20)
    test_names = [osp.basename(test.get_data_info(i)['events_path']) for i in range(2)]
    # numeric order: files 18 and 19 are last (a string sort would end with 8, 9)
    assert test_names == ['cifar10_airplane_18.aedat4', 'cifar10_airplane_19.aedat4']
    train_paths = {train.get_data_info(i)['events_path'] for i in range(len(train))}
    test_paths = {test.get_data_info(i)['events_path'] for i in range(len(test))}
    assert not train_paths & test_paths and len(train_paths | test_paths) == 200
    assert test.get_data_info(19)['gt_label'] == 9  # truck
    assert train.get_data_info(0)['sensor_size'] == (128, 128)


def test_cifar10_dvs_class_list_must_match_the_folders(tmp_path):
    root = cifar_tree(tmp_path / 'a', per_class=10, ext='.aedat')
    touch(root / 'unicorn' / 'x.aedat')
    with pytest.raises(ValueError, match=r'folder\(s\) not in `classes`: unicorn'):
        CIFAR10DVS(str(root))
    root = cifar_tree(tmp_path / 'b', per_class=10)
    with pytest.raises(ValueError, match=r'class\(es\) without a folder: zebra'):
        CIFAR10DVS(str(root), classes=CIFAR10DVS.METAINFO['classes'] + ('zebra', ))


def test_cifar10_dvs_class_too_small_for_the_split_names_the_folder(tmp_path):
    root = cifar_tree(tmp_path / 'CIFAR10DVS', per_class=10)
    for f in (root / 'frog').iterdir():
        f.unlink()
    touch(root / 'frog' / 'cifar10_frog_0.aedat4')  # 1 file: round(0.1) = 0 test files
    with pytest.raises(ValueError, match=r'frog holds 1 recording.*test split empty'):
        CIFAR10DVS(str(root), split='test')


# N-MNIST ----------------------------------------------------------------------------------

def test_nmnist_reads_train_and_test_digit_folders(tmp_path):
    root = tmp_path / 'NMNIST'
    for split, n in (('Train', 3), ('Test', 1)):
        for d in range(10):
            for i in range(n):
                touch(root / split / str(d) / f'{i:05d}.bin')
    train = NMNIST(str(root), split='train')
    assert len(train) == 30
    info = train.get_data_info(29)
    assert info['gt_label'] == 9 and info['events_path'].endswith('Train/9/00002.bin')
    assert info['sensor_size'] == (34, 34)
    assert len(NMNIST(str(root), split='test')) == 10

    for f in (root / 'Test' / '4').iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r'Test/4 holds no .bin recording'):
        NMNIST(str(root), split='test')
    (tmp_path / 'train_only' / 'Train').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r'NMNIST test split: folder .*train_only/Test'):
        NMNIST(str(tmp_path / 'train_only'), split='test')


# HARDVS -----------------------------------------------------------------------------------

def hardvs_tree(root, lines=None):
    lines = lines or dict(train=[('action_001/rec_a', 0), ('action_300/rec_b', 299)],
                          val=[('action_002/rec_c', 1)], test=[('action_003/rec_d', 2)])
    for split, entries in lines.items():
        text = ''.join(f'{folder} 10 {label}\n' for folder, label in entries)
        (root / 'list').mkdir(parents=True, exist_ok=True)
        (root / 'list' / f'{split}_label.txt').write_text(text)
        for folder, _ in entries:
            for sub in ('s2', 's10'):
                touch(root / 'rawframes' / folder / sub / '0.png')
    return root


def test_hardvs_every_sub_folder_of_a_listed_recording_is_a_sample(tmp_path):
    root = hardvs_tree(tmp_path / 'HARDVS')
    train = HARDVS(str(root), split='train')
    infos = [train.get_data_info(i) for i in range(len(train))]
    assert [(osp.relpath(i['frame_dir'], root / 'rawframes'), i['gt_label']) for i in infos] \
        == [('action_001/rec_a/s2', 0), ('action_001/rec_a/s10', 0),
            ('action_300/rec_b/s2', 299), ('action_300/rec_b/s10', 299)]
    assert len(HARDVS(str(root), split='val')) == 2
    assert len(train.metainfo['classes']) == 300


def test_hardvs_list_faults_name_file_and_line(tmp_path):
    root = hardvs_tree(tmp_path / 'a', lines=dict(train=[('action_001/r', 300)]))
    with pytest.raises(ValueError, match=r'train_label.txt line 1 is outside the class list'):
        HARDVS(str(root))
    root = hardvs_tree(tmp_path / 'b', lines=dict(train=[('action_001/r', 0)]))
    with open(root / 'list' / 'train_label.txt', 'a') as f:
        f.write('action_001/r 7\n')
    with pytest.raises(ValueError, match=r'train_label.txt line 2: expected 3 fields'):
        HARDVS(str(root))
    root = hardvs_tree(tmp_path / 'c', lines=dict(train=[('action_001/r', 0)]))
    (root / 'list' / 'train_label.txt').write_text('action_001/missing 10 0\n')
    with pytest.raises(FileNotFoundError, match=r'line 1: folder .*action_001/missing'):
        HARDVS(str(root))
    (root / 'list' / 'train_label.txt').write_text('\n')
    with pytest.raises(ValueError, match=r'train split is empty \(.*train_label.txt holds'):
        HARDVS(str(root))
    with pytest.raises(FileNotFoundError, match=r'list file .*test_label.txt does not exist'):
        HARDVS(str(root), split='test')


# LoadHARDVSFrames -------------------------------------------------------------------------

def write_frames(folder, n, width=16, height=8):
    """Frame k (named k+1.png, unpadded) is grey 128 with a black column at x = k (mod W)
    and a white last row."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        img = np.full((height, width), 128, np.uint8)
        img[:, k % width] = 0
        img[-1] = 255
        Image.fromarray(img).save(folder / f'{k + 1}.png')
    return folder


def dark_columns(clip):
    return [int(np.flatnonzero(frame[0, 0])[0]) if frame[0, 0].any() else -1 for frame in clip]


def test_hardvs_frames_test_clip_is_centred_and_in_numeric_order(tmp_path):
    folder = write_frames(tmp_path / 'clip', 12)
    load = LoadHARDVSFrames(clip_len=8, scale=None, crop_size=None, test_mode=True)
    out = load(dict(frame_dir=str(folder)))
    clip = out['img']
    assert clip.shape == (8, 2, 8, 16) and clip.dtype == np.float32
    # start (12 - 8) // 2 = 2: frames 3.png .. 10.png, black columns 2..9 in time order
    assert dark_columns(clip) == list(range(2, 10))
    assert out['frame_inds'].tolist() == list(range(2, 10))
    assert (out['total_frames'], out['num_frames']) == (12, 8)
    # grey 128 (0.502) is channel 1, black is channel 0 only, white (last row) is neither
    assert clip[0, 1, 0, 0] == 1 and clip[0, 1, 0, 2] == 0 and clip[0, 0, 0, 2] == 1
    assert not clip[:, :, -1].any()
    again = load(dict(frame_dir=str(folder)))['img']
    np.testing.assert_array_equal(again, clip)


def test_hardvs_frames_training_clip_is_random_and_consecutive(tmp_path):
    folder = write_frames(tmp_path / 'clip', 12)
    load = LoadHARDVSFrames(clip_len=4, scale=None, crop_size=None)
    np.random.seed(0)
    starts = set()
    for _ in range(40):
        cols = dark_columns(load(dict(frame_dir=str(folder)))['img'])
        assert cols == list(range(cols[0], cols[0] + 4))
        starts.add(cols[0])
    assert starts == set(range(9))  # every start 0 .. 12 - 4


def test_hardvs_thresholds_at_the_boundaries(tmp_path):
    # grey / 255: 30 -> 0.1176 (< 0.12 dark), 31 -> 0.1216, 76 -> 0.298, 77 -> 0.302,
    # 198 -> 0.776 (<= 0.78), 199 -> 0.780 (> 0.78)
    values = np.array([[30, 31, 76, 77, 198, 199]], np.uint8)
    folder = tmp_path / 'f'
    folder.mkdir()
    Image.fromarray(values).save(folder / '0.png')
    clip = LoadHARDVSFrames(clip_len=1, scale=None, crop_size=None)(
        dict(frame_dir=str(folder)))['img']
    assert clip[0, 0, 0].tolist() == [1, 0, 0, 0, 0, 0]
    assert clip[0, 1, 0].tolist() == [0, 0, 0, 1, 1, 0]
    other = LoadHARDVSFrames(clip_len=1, scale=None, crop_size=None,
                             thresholds=(0.2, 0.5, 0.9))(dict(frame_dir=str(folder)))['img']
    assert other[0, 0, 0].tolist() == [1, 1, 0, 0, 0, 0]
    assert other[0, 1, 0].tolist() == [0, 0, 0, 0, 1, 1]


def test_hardvs_short_clip_is_padded_at_the_end_or_an_error(tmp_path):
    folder = write_frames(tmp_path / 'short', 3)
    out = LoadHARDVSFrames(clip_len=5, scale=None, crop_size=None, test_mode=True)(
        dict(frame_dir=str(folder)))
    assert out['frame_inds'].tolist() == [0, 1, 2, -1, -1]
    assert dark_columns(out['img'][:3]) == [0, 1, 2]
    assert not out['img'][3:].any()
    with pytest.raises(ValueError, match=r'short holds 3 frames, fewer than clip_len=5'):
        LoadHARDVSFrames(clip_len=5, short_clip='error')(dict(frame_dir=str(folder)))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match=r'empty holds no frame'):
        LoadHARDVSFrames()(dict(frame_dir=str(tmp_path / 'empty')))


def test_hardvs_resize_and_centre_crop_keep_the_centre(tmp_path):
    folder = tmp_path / 'big'
    folder.mkdir()
    img = np.full((260, 346), 128, np.uint8)
    img[:, 173] = 0  # centre column of the DAVIS346 frame
    Image.fromarray(img).save(folder / '0.png')
    out = LoadHARDVSFrames(clip_len=2, scale=256, crop_size=224, test_mode=True)(
        dict(frame_dir=str(folder)))
    assert out['img'].shape == (2, 2, 224, 224)
    # 346x260 -> 340x256 (torchvision's truncation), crop offset 58: column 173 -> ~170 -> 112
    cols = np.flatnonzero(out['img'][0, 0].any(axis=0))
    assert cols.size and abs(cols.mean() - 112) <= 1.5
    assert not out['img'][1].any()  # the padded second frame


# LoadEvents -------------------------------------------------------------------------------

def structured(xs, ys, ts, ps):
    events = np.zeros(len(ts), EVENT_DTYPE)
    events['x'], events['y'], events['t'], events['p'] = xs, ys, ts, ps
    return events


def test_load_events_cuts_the_labelled_interval(tmp_path):
    path = tmp_path / 'rec.npy'
    events = structured([1, 2, 3, 4, 5], [0, 1, 2, 3, 4], [10, 20, 30, 40, 50],
                        [True, False, True, False, True])
    np.save(path, events)
    out = LoadEvents()(dict(events_path=str(path), t_start=20, t_end=50,
                            sensor_size=(8, 8)))
    assert out['events'].dtype == EVENT_DTYPE
    assert out['events']['t'].tolist() == [20, 30, 40]  # t_start <= t < t_end
    assert out['events']['x'].tolist() == [2, 3, 4]
    whole = LoadEvents()(dict(events_path=str(path), sensor_size=(8, 8)))
    assert whole['events']['t'].tolist() == [10, 20, 30, 40, 50]
    with pytest.raises(EventFileError, match=r'rec.npy \[t_start=51, t_end=60\) µs: the sample '
                                             r'holds no events'):
        LoadEvents()(dict(events_path=str(path), t_start=51, t_end=60, sensor_size=(8, 8)))


def test_load_events_outside_the_sensor_names_file_and_largest_xy(tmp_path):
    path = tmp_path / 'wide.npy'
    np.save(path, structured([1, 40], [2, 3], [0, 1], [True, True]))
    with pytest.raises(EventFileError, match=r'wide.npy.*largest x = 40, largest y = 3'):
        LoadEvents()(dict(events_path=str(path), sensor_size=(34, 34)))
    out = LoadEvents(check_bounds=False)(dict(events_path=str(path), sensor_size=(34, 34)))
    assert out['events']['x'].tolist() == [1, 40]


def test_gesture_tonic_sample_through_the_registry_pipeline(tmp_path):
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope('mmpretrain')
    root = tmp_path / 'DVSGesture'
    sample = root / 'ibmGestureTrain' / 'user05_led' / '3.npy'
    sample.parent.mkdir(parents=True)
    # tonic's preprocessed layout: (N, 4) x, y, p, t with t in ms
    np.save(sample, np.array([[5, 6, 1, 2], [7, 8, 0, 1], [127, 0, 1, 3]], np.float64))
    dataset = DATASETS.build(dict(type='mmsdt.DVS128Gesture', data_root=str(root),
                                  pipeline=[dict(type='mmsdt.LoadEvents')]))
    out = dataset[0]
    assert out['gt_label'] == 3 and out['sensor_size'] == (128, 128)
    assert out['events']['t'].tolist() == [1000, 2000, 3000]  # ms -> µs, sorted
    assert out['events']['x'].tolist() == [7, 5, 127]
    assert out['events']['p'].tolist() == [False, True, True]
