"""The toy ADE writer (mmsdt.datasets.toy.ade): layout, labels, determinism, reuse."""
import os

import cv2
import numpy as np
import pytest

from mmsdt.datasets import TOY_ADE_CLASSES, TOY_COCO_CLASSES, generate_toy_ade


@pytest.fixture(scope='module')
def ade20(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade20'))
    summary = generate_toy_ade(root, num_train=20, num_val=20, seed=3)
    return root, summary


def test_ade_layout_and_labels(ade20):
    root, summary = ade20
    assert summary['generated'] is True
    assert TOY_ADE_CLASSES == ('background', ) + TOY_COCO_CLASSES
    for split, folder in (('train', 'training'), ('val', 'validation')):
        names = sorted(os.listdir(os.path.join(root, 'images', folder)))
        assert names == [f'{k:06d}.jpg' for k in range(20)]
        seen = set()
        for name in names:
            img = cv2.imread(os.path.join(root, 'images', folder, name))
            label = cv2.imread(os.path.join(root, 'annotations', folder, name[:-4] + '.png'),
                               cv2.IMREAD_UNCHANGED)
            assert img.shape == (256, 256, 3)
            assert label.dtype == np.uint8 and label.shape == img.shape[:2]  # single channel
            values = set(np.unique(label).tolist())
            assert values <= {0, 1, 2, 3, 4}
            assert 0 in values and 1 in values  # unlabelled borders, background
            assert (label == 1).mean() > 0.4  # background covers most of the image
            assert values & {2, 3, 4}
            seen |= values
            # reduce_zero_label: 0 -> 255 (ignored), 1..4 -> 0..3
            reduced = label.astype(np.int64) - 1
            reduced[label == 0] = 255
            assert set(np.unique(reduced).tolist()) <= {0, 1, 2, 3, 255}
        assert seen == {0, 1, 2, 3, 4}, (split, seen)  # every class shows up
        stats = summary['splits'][split]
        assert stats['images'] == 20 and all(stats['images_per_class'][c] > 0
                                             for c in TOY_ADE_CLASSES)


def test_ade_determinism_idempotency_force(tmp_path, file_tree):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    first = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96)
    generate_toy_ade(b, num_train=6, num_val=3, seed=2, size=96)
    generate_toy_ade(c, num_train=6, num_val=3, seed=4, size=96)
    fa, fb, fc = file_tree.files(a), file_tree.files(b), file_tree.files(c)
    assert len(fa) == 2 * (6 + 3) + 1
    assert fa == fb
    assert fa['annotations/training/000000.png'] != fc['annotations/training/000000.png']
    assert fa['images/validation/000002.jpg'] != fc['images/validation/000002.jpg']

    file_tree.age(a)
    before = file_tree.mtimes(a)
    again = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96)
    assert again['generated'] is False and again['splits'] == first['splits']
    assert file_tree.mtimes(a) == before
    forced = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96, force=True)
    assert forced['generated'] is True and forced['splits'] == first['splits']
    after = file_tree.mtimes(a)
    assert all(after[k] > before[k] for k in before)
    assert file_tree.files(a) == fb  # a forced rewrite gives the same bytes


def test_ade_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_toy_ade(str(tmp_path), seed=-3)


def test_ade_loads_in_mmseg(ade20):
    """mmseg's ADE20KDataset only accepts ADE class names; BaseSegDataset takes ours."""
    from mmseg.datasets import BaseSegDataset
    from mmseg.datasets.transforms import LoadAnnotations
    root, _ = ade20
    ds = BaseSegDataset(data_root=root, img_suffix='.jpg', seg_map_suffix='.png',
                        reduce_zero_label=True, metainfo=dict(classes=TOY_ADE_CLASSES),
                        data_prefix=dict(img_path='images/validation',
                                         seg_map_path='annotations/validation'),
                        pipeline=[])
    assert len(ds) == 20
    results = LoadAnnotations()(ds[0])
    assert set(np.unique(results['gt_seg_map']).tolist()) <= {0, 1, 2, 3, 255}
    assert 255 in results['gt_seg_map'] and 0 in results['gt_seg_map']
