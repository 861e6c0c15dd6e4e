"""Scene rendering of the toy data (mmsdt.datasets.toy.scene): shapes, occlusion, scenes."""
import numpy as np
import pytest

from mmsdt.datasets.toy import annotation, scene


def test_occlusion_cuts_earlier_mask():
    h, w = 100, 120
    circle = scene.make_shape('circle', (40, 50), 50)
    square = scene.make_shape('square', (70, 50), 40, angle=20)
    full = [scene.shape_mask(s, h, w) for s in (circle, square)]
    overlap = full[0] & full[1]
    assert overlap.sum() > 100  # the case really overlaps
    vis = scene.occlusion_masks(full)
    assert not (vis[0] & overlap).any()  # the earlier shape lost exactly the overlap
    assert np.array_equal(vis[0], full[0] & ~full[1])
    assert np.array_equal(vis[1], full[1])  # the top shape is untouched
    # swapping the order swaps who is cut
    vis_rev = scene.occlusion_masks(full[::-1])
    assert np.array_equal(vis_rev[1], full[0]) and not (vis_rev[0] & overlap).any()
    # the annotation of the cut circle only describes its visible pixels
    ann = annotation.instance_annotation(vis[0], int(full[0].sum()))
    assert ann is not None and ann['area'] == int(vis[0].sum())
    ys, xs = np.nonzero(vis[0])
    assert ann['bbox'] == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]


def test_render_scene_invariants():
    for index in range(10):
        rng = scene.image_rng(1, 'coco', 'train', index)
        image, shapes = scene.render_scene(rng, 90, 110)
        assert image.shape == (90, 110, 3) and image.dtype == np.uint8
        assert 1 <= len(shapes) <= 5
        vis = [s['visible_mask'] for s in shapes]
        assert all(np.array_equal(v, o) for v, o in
                   zip(vis, scene.occlusion_masks([s['full_mask'] for s in shapes])))
        stack = np.stack(vis).sum(0)
        assert stack.max() <= 1  # visible masks never overlap
        assert not any(scene.has_holes(v) for v in vis)
        assert all(s['border'] in (2, 3) for s in shapes)


def test_toy_scene_is_one_deterministic_image():
    bgr = scene.toy_scene(48, 64, seed=3)
    assert bgr.shape == (48, 64, 3) and bgr.dtype == np.uint8
    assert np.array_equal(bgr, scene.toy_scene(48, 64, seed=3))
    assert not np.array_equal(bgr, scene.toy_scene(48, 64, seed=4))
    assert np.array_equal(scene.toy_scene(48, 64, 3, 'rgb'), bgr[:, :, ::-1])
    image, _ = scene.render_scene(np.random.default_rng(3), 48, 64)
    assert np.array_equal(bgr, image)
    with pytest.raises(ValueError, match='at least 32 x 32'):
        scene.toy_scene(16, 64)
    with pytest.raises(ValueError, match='channel_order'):
        scene.toy_scene(32, 32, channel_order='gray')
