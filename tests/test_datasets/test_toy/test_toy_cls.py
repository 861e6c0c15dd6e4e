"""The toy classification writer (mmsdt.datasets.toy.cls): layout, classes, determinism,
reuse, and that mmpretrain reads it as an ImageNet-layout folder."""
import os

import cv2
import numpy as np
import pytest

from mmsdt.datasets import TOY_CLS_CLASSES, generate_toy_cls
from mmsdt.datasets.toy import image_rng, render_toy_cls_image


@pytest.fixture(scope='module')
def cls4(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('cls4'))
    return root, generate_toy_cls(root, num_train=4, num_val=2, seed=1)


def test_imagenet_folder_layout(cls4):
    root, summary = cls4
    assert summary['generated'] is True and summary['classes'] == list(TOY_CLS_CLASSES)
    assert list(TOY_CLS_CLASSES) == sorted(TOY_CLS_CLASSES)  # folder order = label order
    for split, n in (('train', 4), ('val', 2)):
        assert sorted(os.listdir(os.path.join(root, split))) == list(TOY_CLS_CLASSES)
        for c in TOY_CLS_CLASSES:
            names = sorted(os.listdir(os.path.join(root, split, c)))
            assert names == [f'{c}_{i:06d}.JPEG' for i in range(n)]
            img = cv2.imread(os.path.join(root, split, c, names[0]))
            assert img.shape == (64, 64, 3)
        assert summary['splits'][split]['images'] == n * len(TOY_CLS_CLASSES)


def test_mmpretrain_reads_the_folder_with_its_classes(cls4, mmpretrain_scope):
    from mmpretrain.datasets import CustomDataset
    root, _ = cls4
    dataset = CustomDataset(data_root=root, data_prefix='train', pipeline=[])
    assert dataset.metainfo['classes'] == TOY_CLS_CLASSES
    labels = dataset.get_gt_labels()
    assert np.bincount(labels).tolist() == [4] * len(TOY_CLS_CLASSES)
    for i in range(len(dataset)):  # the label is the folder's index
        info = dataset.get_data_info(i)
        assert os.path.basename(os.path.dirname(info['img_path'])) == \
            TOY_CLS_CLASSES[info['gt_label']]


def test_classes_look_different():
    """Mean images over many draws: the shape classes differ in where their pixels stand out
    from the background, the two textures in their high-frequency energy."""
    def edge_energy(img):
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())
    energy = {c: np.mean([edge_energy(render_toy_cls_image(image_rng(0, 'cls', 'train', i), c))
                          for i in range(12)]) for c in TOY_CLS_CLASSES}
    # stripes / checkers add many edges inside the object
    assert min(energy['striped'], energy['checkered']) > max(
        energy['circle'], energy['square'], energy['triangle'])
    with pytest.raises(ValueError, match='unknown toy class'):
        render_toy_cls_image(image_rng(0, 'cls', 'train', 0), 'hexagon')


def test_determinism_reuse_and_force(tmp_path, file_tree):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_toy_cls(a, num_train=2, num_val=1, seed=5, size=48)
    generate_toy_cls(b, num_train=2, num_val=1, seed=5, size=48)
    generate_toy_cls(c, num_train=2, num_val=1, seed=6, size=48)
    fa, fb, fc = file_tree.files(a), file_tree.files(b), file_tree.files(c)
    assert len(fa) == len(TOY_CLS_CLASSES) * 3 + 1  # + the marker
    assert fa == fb
    assert fa['train/ring/ring_000000.JPEG'] != fc['train/ring/ring_000000.JPEG']

    file_tree.age(a)
    before = file_tree.mtimes(a)
    again = generate_toy_cls(a, num_train=2, num_val=1, seed=5, size=48)
    assert again['generated'] is False and file_tree.mtimes(a) == before
    # fewer images: regenerated, and the extra files of the larger set are gone
    smaller = generate_toy_cls(a, num_train=1, num_val=1, seed=5, size=48)
    assert smaller['generated'] is True
    assert os.listdir(os.path.join(a, 'train', 'ring')) == ['ring_000000.JPEG']
    # the same image whatever the count (one random stream per image)
    assert file_tree.files(a)['train/ring/ring_000000.JPEG'] == fa['train/ring/ring_000000.JPEG']
    os.remove(os.path.join(a, 'val', 'circle', 'circle_000000.JPEG'))
    with pytest.raises(OSError, match='circle_000000.JPEG'):
        generate_toy_cls(a, num_train=1, num_val=1, seed=5, size=48)
    assert generate_toy_cls(a, num_train=1, num_val=1, seed=5, size=48,
                            force=True)['generated'] is True


@pytest.mark.parametrize('kwargs, match', [(dict(num_train=-1), 'num_train'),
                                           (dict(seed=1.5), 'seed'), (dict(size=16), 'size')])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate_toy_cls(str(tmp_path), **kwargs)
