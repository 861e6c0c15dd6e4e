"""Mask -> annotation helpers of the toy data (mmsdt.datasets.toy.annotation)."""
import cv2
import numpy as np
import pytest

from mmsdt.datasets import TOY_COCO_CLASSES
from mmsdt.datasets.toy import annotation, scene

# pycocotools' decode trips a numpy 2 DeprecationWarning on every call; it is not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')


def test_occlusion_split_gives_several_polygons():
    # a tall bar over the middle of a wide square cuts it into two visible pieces
    h, w = 80, 160
    under = scene.make_shape('square', (80, 40), 60)
    bar = np.zeros((h, w), bool)
    bar[:, 75:85] = True
    vis = scene.occlusion_masks([scene.shape_mask(under, h, w), bar])[0]
    ann = annotation.instance_annotation(vis, int(scene.shape_mask(under, h, w).sum()))
    assert len(ann['segmentation']) == 2


def test_drop_rule():
    full = np.zeros((100, 100), bool)
    full[10:90, 10:90] = True  # 6400 px
    part = np.zeros_like(full)
    part[10:30, 10:90] = True  # 1600 px = 25%: kept
    assert annotation.instance_annotation(part, int(full.sum())) is not None
    part[10:12] = False  # < 25%: dropped
    assert annotation.instance_annotation(part, int(full.sum())) is None
    tiny = np.zeros_like(full)
    tiny[0:7, 0:8] = True  # 56 px < 60 even though it is 100% visible
    assert annotation.instance_annotation(tiny, 56) is None
    # tiny detached fragments are removed from area, bbox and polygons
    blob = np.zeros_like(full)
    blob[20:40, 20:40] = True
    blob[80, 80] = True
    ann = annotation.instance_annotation(blob, 401)
    assert ann['area'] == 400 and ann['bbox'] == [20.0, 20.0, 20.0, 20.0]
    assert len(ann['segmentation']) == 1


def test_polygons_rasterise_back_to_mask():
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    ious = []
    for _ in range(20):
        shape = scene.sample_shape(rng, 120, 140)
        m = scene.shape_mask(shape, 120, 140)
        polys = annotation.mask_to_polygons(m)
        assert polys and all(len(p) >= 6 and len(p) % 2 == 0 for p in polys)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, 120, 140))
        back = mask_utils.decode(rle).astype(bool)
        ious.append((back & m).sum() / (back | m).sum())
    assert min(ious) > 0.9 and np.mean(ious) > 0.97


def test_ade_borders_surround_shapes():
    rng = scene.image_rng(0, 'ade', 'train', 0)
    _, shapes = scene.render_scene(rng, 128, 128)
    label = annotation.semantic_label_map(shapes, 128, 128)
    top = shapes[-1]
    assert np.array_equal(label[top['full_mask']],
                          np.full(int(top['full_mask'].sum()),
                                  2 + TOY_COCO_CLASSES.index(top['kind'])))
    # the pixels just outside the top shape are unlabelled
    ring = cv2.dilate(top['full_mask'].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ring &= ~top['full_mask']
    assert (label[ring] == 0).all()
    # two overlapping shapes: the later one overwrites the earlier one
    a = scene.make_shape('circle', (40, 40), 40)
    b = scene.make_shape('triangle', (55, 45), 40, angle=10)
    sa = dict(a, full_mask=scene.shape_mask(a, 96, 96), border=2)
    sb = dict(b, full_mask=scene.shape_mask(b, 96, 96), border=3)
    lab = annotation.semantic_label_map([sa, sb], 96, 96)
    assert (lab[sb['full_mask']] == 4).all()
    assert (lab[sa['full_mask'] & ~sb['full_mask']] != 2).any()  # ring cut into the circle
    assert (lab == 2).sum() < sa['full_mask'].sum()
