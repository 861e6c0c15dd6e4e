"""The toy COCO writer (mmsdt.datasets.toy.coco): layout, annotations, determinism, reuse."""
import json
import os

import cv2
import numpy as np
import pytest

from mmsdt.datasets import TOY_COCO_CLASSES, generate_toy_coco
from mmsdt.datasets.toy import annotation, scene

# pycocotools' decode trips a numpy 2 DeprecationWarning on every call; it is not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')


@pytest.fixture(scope='module')
def coco20(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco20'))
    summary = generate_toy_coco(root, num_train=20, num_val=20, seed=3)
    return root, summary


def test_coco_layout_and_pycocotools(coco20):
    from pycocotools.coco import COCO
    root, summary = coco20
    assert summary['generated'] is True
    for split in ('train', 'val'):
        path = os.path.join(root, 'annotations', f'instances_{split}.json')
        coco = COCO(path)
        cats = coco.loadCats(coco.getCatIds())
        assert [(c['id'], c['name']) for c in cats] == [(1, 'circle'), (2, 'square'),
                                                         (3, 'triangle')]
        imgs = coco.loadImgs(coco.getImgIds())
        assert len(imgs) == 20
        assert sorted(i['file_name'] for i in imgs) == [f'{k:06d}.jpg' for k in range(20)]
        sizes = set()
        for info in imgs:
            img = cv2.imread(os.path.join(root, split, info['file_name']))
            assert img is not None and img.shape == (info['height'], info['width'], 3)
            assert 256 <= info['width'] <= 320 and 256 <= info['height'] <= 320
            sizes.add((info['width'], info['height']))
        assert len(sizes) > 5  # sizes vary per image
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) == summary['splits'][split]['instances']
        per_class = {n: 0 for n in TOY_COCO_CLASSES}
        for ann in anns:
            per_class[TOY_COCO_CLASSES[ann['category_id'] - 1]] += 1
            info = coco.imgs[ann['image_id']]
            x, y, w, h = ann['bbox']
            assert ann['iscrowd'] == 0 and ann['area'] >= annotation.MIN_VISIBLE_AREA
            assert 0 <= x and 0 <= y and x + w <= info['width'] and y + h <= info['height']
            assert isinstance(ann['segmentation'], list) and ann['segmentation']
            for poly in ann['segmentation']:
                pts = np.asarray(poly).reshape(-1, 2)
                assert len(pts) >= 3
                assert (pts[:, 0] >= x).all() and (pts[:, 0] <= x + w).all()
                assert (pts[:, 1] >= y).all() and (pts[:, 1] <= y + h).all()
            m = coco.annToMask(ann).astype(bool)
            assert abs(int(m.sum()) - ann['area']) <= 0.1 * ann['area']
        assert per_class == summary['splits'][split]['per_class']
        assert all(v > 0 for v in per_class.values()), (split, per_class)  # every class shows


def test_coco_masks_match_rendered_visible_masks(coco20):
    """Re-render the scenes: each annotation matches the visible mask of a drawn shape."""
    from pycocotools.coco import COCO
    root, _ = coco20
    coco = COCO(os.path.join(root, 'annotations', 'instances_val.json'))
    ious, occluded = [], 0
    for info in coco.loadImgs(coco.getImgIds()):
        index = int(info['file_name'][:6])
        rng = scene.image_rng(3, 'coco', 'val', index)
        width, height = (int(v) for v in rng.integers(256, 321, size=2))
        assert (width, height) == (info['width'], info['height'])
        _, shapes = scene.render_scene(rng, height, width)
        kept = [(s, annotation.instance_annotation(s['visible_mask'], int(s['full_mask'].sum())))
                for s in shapes]
        kept = [(s, a) for s, a in kept if a is not None]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=info['id']))
        assert len(anns) == len(kept)
        for ann, (shape, ref) in zip(anns, kept):
            assert TOY_COCO_CLASSES[ann['category_id'] - 1] == shape['kind']
            assert ann['area'] == int(ref['mask'].sum())
            m = coco.annToMask(ann).astype(bool)
            iou = (m & ref['mask']).sum() / (m | ref['mask']).sum()
            assert iou > 0.8
            ious.append(iou)
            occluded += int(not np.array_equal(shape['visible_mask'], shape['full_mask']))
    assert np.mean(ious) > 0.95
    assert occluded > 0  # the run does contain cut instances


def test_coco_determinism(tmp_path, file_tree):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_toy_coco(a, num_train=6, num_val=3, seed=5)
    generate_toy_coco(b, num_train=6, num_val=3, seed=5)
    generate_toy_coco(c, num_train=6, num_val=3, seed=6)
    fa, fb, fc = file_tree.files(a), file_tree.files(b), file_tree.files(c)
    assert len(fa) == 6 + 3 + 2 + 1
    assert fa == fb
    assert fa.keys() == fc.keys()
    assert fa['annotations/instances_train.json'] != fc['annotations/instances_train.json']
    assert fa['train/000000.jpg'] != fc['train/000000.jpg']
    # train and val images come from different streams
    assert fa['train/000000.jpg'] != fa['val/000000.jpg']


def test_coco_idempotent_and_force(tmp_path, file_tree):
    root = str(tmp_path / 'coco')
    first = generate_toy_coco(root, num_train=6, num_val=3, seed=0)
    marker = os.path.join(root, '.complete_coco')
    with open(marker) as f:
        assert json.load(f)['num_train'] == 6
    file_tree.age(root)
    before = file_tree.mtimes(root)
    again = generate_toy_coco(root, num_train=6, num_val=3, seed=0)
    assert again['generated'] is False and first['generated'] is True
    assert again['splits'] == first['splits']
    assert file_tree.mtimes(root) == before  # nothing rewritten

    forced = generate_toy_coco(root, num_train=6, num_val=3, seed=0, force=True)
    after = file_tree.mtimes(root)
    assert forced['generated'] is True and forced['splits'] == first['splits']
    assert all(after[k] > before[k] for k in before)

    # other arguments: regenerated, and images of the larger run are not left behind
    smaller = generate_toy_coco(root, num_train=4, num_val=3, seed=0)
    assert smaller['generated'] is True and smaller['splits']['train']['images'] == 4
    assert sorted(os.listdir(os.path.join(root, 'train'))) == [f'{k:06d}.jpg' for k in range(4)]

    # a missing / broken marker means "not complete"
    os.remove(os.path.join(root, '.complete_coco'))
    assert generate_toy_coco(root, num_train=4, num_val=3, seed=0)['generated'] is True


def test_coco_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_toy_coco(str(tmp_path), num_train=-1)
    with pytest.raises(ValueError):
        generate_toy_coco(str(tmp_path), min_size=300, max_size=200)


def test_coco_loads_in_mmdet(coco20):
    from mmdet.datasets import CocoDataset
    root, summary = coco20
    ds = CocoDataset(data_root=root, ann_file='annotations/instances_val.json',
                     data_prefix=dict(img='val/'), metainfo=dict(classes=TOY_COCO_CLASSES),
                     filter_cfg=None, pipeline=[], test_mode=False)
    assert len(ds) == 20
    info = ds[0]
    assert os.path.exists(info['img_path'])
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))) == \
        summary['splits']['val']['instances']
