"""The toy event set (mmsdt.datasets.toy.events): motion defines the class, the events carry
the motion's sign, the N-MNIST layout reads back through read_events and the NMNIST data
set, determinism and reuse."""
import os

import numpy as np
import pytest

from mmsdt.datasets import TOY_DVS_CLASSES, generate_toy_dvs, read_events
from mmsdt.datasets.events.emulator import DVSEmulator, lin_log
from mmsdt.datasets.toy import image_rng, render_motion_video
from mmsdt.datasets.toy.events import EMULATOR, FRAME_US, NUM_FRAMES, SHAPES


@pytest.fixture(scope='module')
def dvs2(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('dvs2'))
    return root, generate_toy_dvs(root, num_train=2, num_val=1, seed=1, size=40)


def test_nmnist_layout_reads_back(dvs2):
    root, summary = dvs2
    assert summary['generated'] is True and summary['format'] == 'nmnist'
    assert list(TOY_DVS_CLASSES) == sorted(TOY_DVS_CLASSES)  # folder order = label order
    assert summary['sensor_size'] == (40, 40)
    for split, folder, n in (('train', 'Train', 2), ('val', 'Test', 1)):
        assert sorted(os.listdir(os.path.join(root, folder))) == list(TOY_DVS_CLASSES)
        total = 0
        for c in TOY_DVS_CLASSES:
            names = sorted(os.listdir(os.path.join(root, folder, c)))
            assert names == [f'{i:06d}.bin' for i in range(n)]
            for name in names:
                events = read_events(os.path.join(root, folder, c, name))
                assert events.size > 100
                assert events['x'].max() < 40 and events['y'].max() < 40
                assert (np.diff(events['t']) >= 0).all()
                assert 0 < events['t'][0] and events['t'][-1] <= (NUM_FRAMES - 1) * FRAME_US
                total += events.size
        assert summary['splits'][split]['recordings'] == n * len(TOY_DVS_CLASSES)
        assert summary['splits'][split]['events'] == total


def test_written_events_equal_the_generated_ones(dvs2):
    """The file holds exactly the emulator's events of that sample's generator."""
    from mmsdt.datasets.toy import toy_dvs_events
    root, _ = dvs2
    label_id = TOY_DVS_CLASSES.index('rotate_cw')
    expected = toy_dvs_events(image_rng(1, 'dvs', 'train', label_id * 1_000_000 + 1),
                              'rotate_cw', 40)
    assert np.array_equal(read_events(os.path.join(root, 'Train', 'rotate_cw', '000001.bin')),
                          expected)


def test_nmnist_dataset_reads_the_toy_set(dvs2, mmpretrain_scope):
    from mmsdt.datasets.events import NMNIST
    root, _ = dvs2
    dataset = NMNIST(data_root=root, split='test', pipeline=[],
                     metainfo=dict(classes=TOY_DVS_CLASSES, sensor_size=(40, 40)))
    assert dataset.metainfo['classes'] == TOY_DVS_CLASSES
    assert np.bincount(dataset.get_gt_labels()).tolist() == [1] * len(TOY_DVS_CLASSES)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert tuple(info['sensor_size']) == (40, 40)
        assert os.path.basename(os.path.dirname(info['events_path'])) == \
            TOY_DVS_CLASSES[info['gt_label']]


def _flow(label, motion, k, size):
    """Ground-truth image velocity (px per frame) of every pixel at frame k, from the
    trajectory: c' + (s'/s)(p - c) + a' J (p - c), J(x, y) = (-y, x)."""
    c, a, s = motion['centres'], motion['angles'], motion['scales']
    dc, da, ds = c[k + 1] - c[k], a[k + 1] - a[k], s[k + 1] / s[k] - 1
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    rx, ry = xx - c[k, 0], yy - c[k, 1]
    return dc[0] + ds * rx - da * ry, dc[1] + ds * ry + da * rx


@pytest.mark.parametrize('label', TOY_DVS_CLASSES)
def test_event_polarity_follows_the_class_motion(label):
    """Brightness constancy: a pixel brightens where -grad(L) . v > 0. Most events agree in
    sign with the class's own flow field, and disagree with the opposite motion (left for
    right, ccw for cw, contraction for expansion), for every shape and texture drawn."""
    size, agree, opposite = 48, [], []
    for i in range(6):
        rng = image_rng(3, 'dvs', 'train', i)
        frames, times, motion = render_motion_video(rng, label, size)
        events = DVSEmulator(**dict(EMULATOR, shot_noise_hz=0)).emulate(frames, times, rng)
        level = lin_log(frames)
        k = np.clip(events['t'] // FRAME_US, 0, len(frames) - 2)  # the frame before the event
        gy, gx = np.gradient(level, axis=(1, 2))
        vx, vy = np.stack([_flow(label, motion, j, size) for j in range(len(frames) - 1)], 1)
        ex, ey = events['x'].astype(int), events['y'].astype(int)
        change = -(gx[k, ey, ex] * vx[k, ey, ex] + gy[k, ey, ex] * vy[k, ey, ex])
        strong = np.abs(change) > 0.05
        sign = np.where(events['p'], 1, -1)[strong]
        agree.append(np.mean(sign == np.sign(change[strong])))
        opposite.append(np.mean(sign == -np.sign(change[strong])))
    assert np.mean(agree) > 0.8, (label, agree)
    assert np.mean(opposite) < 0.2, (label, opposite)


def test_shape_and_texture_do_not_tell_the_class():
    """Every class draws its shapes and textures from the same lists: over 25 recordings
    each class shows at least four of the five shapes and all three textures."""
    for label in TOY_DVS_CLASSES:
        drawn = [render_motion_video(image_rng(0, 'dvs', 'train', i), label, 32, 4)[2]
                 for i in range(25)]
        assert len({d['shape'] for d in drawn}) >= len(SHAPES) - 1, label
        assert len({d['texture'] for d in drawn}) == 3, label
    with pytest.raises(ValueError, match='unknown toy dvs class'):
        render_motion_video(image_rng(0, 'dvs', 'train', 0), 'blink')


def test_determinism_reuse_and_force(tmp_path, file_tree):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_toy_dvs(a, num_train=2, num_val=1, seed=5, size=32)
    generate_toy_dvs(b, num_train=2, num_val=1, seed=5, size=32)
    generate_toy_dvs(c, num_train=2, num_val=1, seed=6, size=32)
    fa, fb, fc = file_tree.files(a), file_tree.files(b), file_tree.files(c)
    assert len(fa) == len(TOY_DVS_CLASSES) * 3 + 1  # + the marker
    assert fa == fb
    assert fa['Train/expand/000000.bin'] != fc['Train/expand/000000.bin']

    file_tree.age(a)
    before = file_tree.mtimes(a)
    again = generate_toy_dvs(a, num_train=2, num_val=1, seed=5, size=32)
    assert again['generated'] is False and file_tree.mtimes(a) == before
    smaller = generate_toy_dvs(a, num_train=1, num_val=1, seed=5, size=32)
    assert smaller['generated'] is True
    assert os.listdir(os.path.join(a, 'Train', 'expand')) == ['000000.bin']
    # the same recording whatever the count (one random stream per recording)
    assert file_tree.files(a)['Train/expand/000000.bin'] == fa['Train/expand/000000.bin']
    forced = generate_toy_dvs(a, num_train=1, num_val=1, seed=5, size=32, force=True)
    assert forced['generated'] is True

    os.remove(os.path.join(a, 'Test', 'move_up', '000000.bin'))
    with pytest.raises(OSError, match='missing recording .*move_up'):
        generate_toy_dvs(a, num_train=1, num_val=1, seed=5, size=32)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_train=-1), 'num_train'),
    (dict(seed=1.5), 'seed'),
    (dict(size=16), 'size'),
    (dict(size=300), 'size'),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_toy_dvs(str(tmp_path), **kwargs)
