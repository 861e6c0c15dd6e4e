"""Tests of the deterministic toy COCO / ADE generators (small counts, a few seconds)."""
import json
import os

import cv2
import numpy as np
import pytest

from mmsdt.datasets import (TOY_ADE_CLASSES, TOY_COCO_CLASSES, generate_toy_ade,
                            generate_toy_coco)
from mmsdt.datasets import toy_data

# pycocotools' decode trips a numpy 2 DeprecationWarning on every call; it is not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')


def _files(root):
    """Relative path -> bytes for every file under root (marker included)."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _mtimes(root):
    return {
        os.path.relpath(os.path.join(d, n), root): os.stat(os.path.join(d, n)).st_mtime_ns
        for d, _, names in os.walk(root) for n in names
    }


def _age(root, seconds=1000):
    """Push every file's mtime into the past so that a rewrite is visible."""
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            st = os.stat(p)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


@pytest.fixture(scope='module')
def coco20(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('coco20'))
    summary = generate_toy_coco(root, num_train=20, num_val=20, seed=3)
    return root, summary


@pytest.fixture(scope='module')
def ade20(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('ade20'))
    summary = generate_toy_ade(root, num_train=20, num_val=20, seed=3)
    return root, summary


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------
def test_occlusion_cuts_earlier_mask():
    h, w = 100, 120
    circle = toy_data.make_shape('circle', (40, 50), 50)
    square = toy_data.make_shape('square', (70, 50), 40, angle=20)
    full = [toy_data.shape_mask(s, h, w) for s in (circle, square)]
    overlap = full[0] & full[1]
    assert overlap.sum() > 100  # the case really overlaps
    vis = toy_data.occlusion_masks(full)
    assert not (vis[0] & overlap).any()  # the earlier shape lost exactly the overlap
    assert np.array_equal(vis[0], full[0] & ~full[1])
    assert np.array_equal(vis[1], full[1])  # the top shape is untouched
    # swapping the order swaps who is cut
    vis_rev = toy_data.occlusion_masks(full[::-1])
    assert np.array_equal(vis_rev[1], full[0]) and not (vis_rev[0] & overlap).any()
    # the annotation of the cut circle only describes its visible pixels
    ann = toy_data.instance_annotation(vis[0], int(full[0].sum()))
    assert ann is not None and ann['area'] == int(vis[0].sum())
    ys, xs = np.nonzero(vis[0])
    assert ann['bbox'] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]


def test_occlusion_split_gives_several_polygons():
    # a tall bar over the middle of a wide square cuts it into two visible pieces
    h, w = 80, 160
    under = toy_data.make_shape('square', (80, 40), 60)
    bar = np.zeros((h, w), bool)
    bar[:, 75:85] = True
    vis = toy_data.occlusion_masks([toy_data.shape_mask(under, h, w), bar])[0]
    ann = toy_data.instance_annotation(vis, int(toy_data.shape_mask(under, h, w).sum()))
    assert len(ann['segmentation']) == 2


def test_drop_rule():
    full = np.zeros((100, 100), bool)
    full[10:90, 10:90] = True  # 6400 px
    part = np.zeros_like(full)
    part[10:30, 10:90] = True  # 1600 px = 25%: kept
    assert toy_data.instance_annotation(part, int(full.sum())) is not None
    part[10:12] = False  # < 25%: dropped
    assert toy_data.instance_annotation(part, int(full.sum())) is None
    tiny = np.zeros_like(full)
    tiny[0:7, 0:8] = True  # 56 px < 60 even though it is 100% visible
    assert toy_data.instance_annotation(tiny, 56) is None
    # tiny detached fragments are removed from area, bbox and polygons
    blob = np.zeros_like(full)
    blob[20:40, 20:40] = True
    blob[80, 80] = True
    ann = toy_data.instance_annotation(blob, 401)
    assert ann['area'] == 400 and ann['bbox'] == [20.0, 20.0, 20.0, 20.0]
    assert len(ann['segmentation']) == 1


def test_polygons_rasterise_back_to_mask():
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    ious = []
    for _ in range(20):
        shape = toy_data.sample_shape(rng, 120, 140)
        m = toy_data.shape_mask(shape, 120, 140)
        polys = toy_data.mask_to_polygons(m)
        assert polys and all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, 120, 140))
        back = mask_utils.decode(rle).astype(bool)
        ious.append((back & m).sum() / (back | m).sum())
    assert min(ious) > 0.9 and np.mean(ious) > 0.97


def test_render_scene_invariants():
    for index in range(10):
        rng = toy_data.image_rng(1, 'coco', 'train', index)
        image, shapes = toy_data.render_scene(rng, 90, 110)
        assert image.shape == (90, 110, 3) and image.dtype == np.uint8
        assert 1 <= len(shapes) <= 5
        vis = [s['visible_mask'] for s in shapes]
        assert all(np.array_equal(v, o) for v, o in
                   zip(vis, toy_data.occlusion_masks([s['full_mask'] for s in shapes])))
        stack = np.stack(vis).sum(0)
        assert stack.max() <= 1  # visible masks never overlap
        assert not any(toy_data.has_holes(v) for v in vis)
        assert all(s['border'] in (2, 3) for s in shapes)


# ---------------------------------------------------------------------------------------
# COCO
# ---------------------------------------------------------------------------------------
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
            assert ann['iscrowd'] == 0 and ann['area'] >= toy_data.MIN_VISIBLE_AREA
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
        rng = toy_data.image_rng(3, 'coco', 'val', index)
        width, height = (int(v) for v in rng.integers(256, 321, size=2))
        assert (width, height) == (info['width'], info['height'])
        _, shapes = toy_data.render_scene(rng, height, width)
        kept = [(s, toy_data.instance_annotation(s['visible_mask'], int(s['full_mask'].sum())))
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


def test_coco_determinism(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    generate_toy_coco(a, num_train=6, num_val=3, seed=5)
    generate_toy_coco(b, num_train=6, num_val=3, seed=5)
    generate_toy_coco(c, num_train=6, num_val=3, seed=6)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert len(fa) == 6 + 3 + 2 + 1
    assert fa == fb
    assert fa.keys() == fc.keys()
    assert fa['annotations/instances_train.json'] != fc['annotations/instances_train.json']
    assert fa['train/000000.jpg'] != fc['train/000000.jpg']
    # train and val images come from different streams
    assert fa['train/000000.jpg'] != fa['val/000000.jpg']


def test_coco_idempotent_and_force(tmp_path):
    root = str(tmp_path / 'coco')
    first = generate_toy_coco(root, num_train=6, num_val=3, seed=0)
    marker = os.path.join(root, '.complete_coco')
    with open(marker) as f:
        assert json.load(f)['num_train'] == 6
    _age(root)
    before = _mtimes(root)
    again = generate_toy_coco(root, num_train=6, num_val=3, seed=0)
    assert again['generated'] is False and first['generated'] is True
    assert again['splits'] == first['splits']
    assert _mtimes(root) == before  # nothing rewritten

    forced = generate_toy_coco(root, num_train=6, num_val=3, seed=0, force=True)
    after = _mtimes(root)
    assert forced['generated'] is True and forced['splits'] == first['splits']
    assert all(after[k] > before[k] for k in before)

    # other arguments: regenerated, and images of the larger run are not left behind
    smaller = generate_toy_coco(root, num_train=4, num_val=3, seed=0)
    assert smaller['generated'] is True and smaller['splits']['train']['images'] == 4
    assert sorted(os.listdir(os.path.join(root, 'train'))) == [f'{k:06d}.jpg' for k in range(4)]

    # a missing / broken marker means "not complete"
    os.remove(os.path.join(root, '.complete_coco'))
    assert generate_toy_coco(root, num_train=4, num_val=3, seed=0)['generated'] is True


def test_coco_loads_in_mmdet(coco20):
    pytest.importorskip('mmdet')
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


# ---------------------------------------------------------------------------------------
# ADE
# ---------------------------------------------------------------------------------------
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


def test_ade_borders_surround_shapes():
    rng = toy_data.image_rng(0, 'ade', 'train', 0)
    _, shapes = toy_data.render_scene(rng, 128, 128)
    label = toy_data.semantic_label_map(shapes, 128, 128)
    top = shapes[-1]
    assert np.array_equal(label[top['full_mask']],
                          np.full(int(top['full_mask'].sum()),
                                  2 + TOY_COCO_CLASSES.index(top['kind'])))
    # the pixels just outside the top shape are unlabelled
    ring = cv2.dilate(top['full_mask'].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ring &= ~top['full_mask']
    assert (label[ring] == 0).all()
    # two overlapping shapes: the later one overwrites the earlier one
    a = toy_data.make_shape('circle', (40, 40), 40)
    b = toy_data.make_shape('triangle', (55, 45), 40, angle=10)
    sa = dict(a, full_mask=toy_data.shape_mask(a, 96, 96), border=2)
    sb = dict(b, full_mask=toy_data.shape_mask(b, 96, 96), border=3)
    lab = toy_data.semantic_label_map([sa, sb], 96, 96)
    assert (lab[sb['full_mask']] == 4).all()
    assert (lab[sa['full_mask'] & ~sb['full_mask']] != 2).any()  # ring cut into the circle
    assert (lab == 2).sum() < sa['full_mask'].sum()


def test_ade_determinism_idempotency_force(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    first = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96)
    generate_toy_ade(b, num_train=6, num_val=3, seed=2, size=96)
    generate_toy_ade(c, num_train=6, num_val=3, seed=4, size=96)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert len(fa) == 2 * (6 + 3) + 1
    assert fa == fb
    assert fa['annotations/training/000000.png'] != fc['annotations/training/000000.png']
    assert fa['images/validation/000002.jpg'] != fc['images/validation/000002.jpg']

    _age(a)
    before = _mtimes(a)
    again = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96)
    assert again['generated'] is False and again['splits'] == first['splits']
    assert _mtimes(a) == before
    forced = generate_toy_ade(a, num_train=6, num_val=3, seed=2, size=96, force=True)
    assert forced['generated'] is True and forced['splits'] == first['splits']
    after = _mtimes(a)
    assert all(after[k] > before[k] for k in before)
    assert _files(a) == fb  # a forced rewrite gives the same bytes


def test_invalid_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_toy_coco(str(tmp_path), num_train=-1)
    with pytest.raises(ValueError):
        generate_toy_coco(str(tmp_path), min_size=300, max_size=200)
    with pytest.raises(ValueError):
        generate_toy_ade(str(tmp_path), seed=-3)


def test_cli(tmp_path, capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'misc',
                        'make_toy_data.py')
    spec = importlib.util.spec_from_file_location('make_toy_data', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = str(tmp_path / 'cli')
    summary = module.main(['coco', '--out', out, '--num-train', '3', '--num-val', '2',
                           '--seed', '1'])
    text = capsys.readouterr().out
    assert 'train: 3/3' in text and 'toy coco generated' in text
    assert summary['splits']['val']['images'] == 2
    module.main(['coco', '--out', out, '--num-train', '3', '--num-val', '2', '--seed', '1'])
    assert 'up to date' in capsys.readouterr().out


def test_ade_loads_in_mmseg(ade20):
    """mmseg's ADE20KDataset only accepts ADE class names; BaseSegDataset takes ours."""
    pytest.importorskip('mmseg')
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
