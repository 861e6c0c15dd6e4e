"""Tests of SegCopyPaste: pasted pixels carry image and label together, the rest stays."""
import numpy as np
import pytest

from mmsdt.datasets import SegCopyPaste, generate_toy_ade


def _sample(h, w, value, img_value):
    return dict(img=np.full((h, w, 3), img_value, np.uint8),
                gt_seg_map=np.full((h, w), value, np.uint8))


def _source(h=20, w=20):
    """Background 0 with a class-2 square at rows/cols 5..9, a 2-px ignore ring around it and a
    far-away ignore pixel (which must not travel: it is not near an object)."""
    src = _sample(h, w, 0, 10)
    src['gt_seg_map'][3:12, 3:12] = 255
    src['gt_seg_map'][5:10, 5:10] = 2
    src['img'][5:10, 5:10] = 200
    src['gt_seg_map'][18, 18] = 255
    return src


def test_pastes_object_and_its_ignore_ring_only():
    dst = _sample(20, 20, 1, 50)
    out = SegCopyPaste(classes=(1, 2, 3), ignore_border=2)(dict(dst, mix_results=[_source()]))
    seg, img = out['gt_seg_map'], out['img']
    assert (seg[5:10, 5:10] == 2).all() and (img[5:10, 5:10] == 200).all()
    assert (seg[3:12, 3:12][seg[3:12, 3:12] != 2] == 255).all()  # the ring came along
    assert (img[3:5, 3:12] == 10).all()  # with the source's pixels under it
    assert seg[18, 18] == 1 and seg[0, 0] == 1 and img[0, 0, 0] == 50  # the rest is untouched
    assert (dst['gt_seg_map'] == 1).all(), 'the input arrays must not be modified in place'


def test_without_ignore_border_only_class_pixels_move():
    dst = _sample(20, 20, 1, 50)
    out = SegCopyPaste(classes=(2, ), ignore_border=0)(dict(dst, mix_results=[_source()]))
    assert (out['gt_seg_map'] == 2).sum() == 25
    assert (out['gt_seg_map'] == 255).sum() == 0


def test_classes_not_listed_are_not_pasted_and_prob_zero_is_identity():
    dst = _sample(20, 20, 1, 50)
    out = SegCopyPaste(classes=(3, ))(dict(dst, mix_results=[_source()]))
    assert (out['gt_seg_map'] == 1).all() and (out['img'] == 50).all()
    out = SegCopyPaste(classes=(2, ), prob=0.0)(dict(dst, mix_results=[_source()]))
    assert (out['gt_seg_map'] == 1).all()


def test_different_sizes_use_the_overlap():
    dst = _sample(8, 30, 1, 50)
    out = SegCopyPaste(classes=(2, ), ignore_border=0)(dict(dst, mix_results=[_source()]))
    assert out['gt_seg_map'].shape == (8, 30)
    assert (out['gt_seg_map'][5:8, 5:10] == 2).all() and (out['gt_seg_map'] == 2).sum() == 15


def test_bad_use_gets_a_clear_error():
    with pytest.raises(KeyError, match='MultiImageMixDataset'):
        SegCopyPaste(classes=(1, ))(_sample(4, 4, 0, 0))
    with pytest.raises(ValueError, match='classes'):
        SegCopyPaste(classes=())
    with pytest.raises(ValueError, match='prob'):
        SegCopyPaste(classes=(1, ), prob=2)


def test_image_and_label_of_different_sizes_is_a_clear_error():
    # a 20x20 image with a 20x16 label map used to fail as an IndexError in the pasting
    narrow = dict(_source(), gt_seg_map=_source()['gt_seg_map'][:, :16],
                  img_path='img/narrow.jpg', seg_map_path='ann/narrow.png')
    for dst, src in ((narrow, _source()), (_sample(20, 20, 1, 50), narrow)):
        with pytest.raises(ValueError, match=r'SegCopyPaste: ann/narrow.png is 20x16 \(HxW\) '
                           r'but its image img/narrow.jpg is 20x20'):
            SegCopyPaste(classes=(2, ))(dict(dst, mix_results=[src]))


@pytest.mark.usefixtures('mmseg_scope')
def test_inside_mmseg_multi_image_mix_dataset(tmp_path):
    from mmseg.registry import DATASETS

    import mmsdt.datasets  # noqa: F401  (registers the transforms)
    root = str(tmp_path / 'ade')
    generate_toy_ade(root, num_train=6, num_val=1)
    inner = dict(type='BaseSegDataset', data_root=root, img_suffix='.jpg',
                 seg_map_suffix='.png', reduce_zero_label=True,
                 metainfo=dict(classes=('background', 'circle', 'square', 'triangle')),
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'),
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='LoadAnnotations')])
    dataset = DATASETS.build(dict(type='MultiImageMixDataset', dataset=inner,
                                  pipeline=[dict(type='mmsdt.SegCopyPaste',
                                                 classes=(1, 2, 3))]))
    plain = DATASETS.build(inner)
    np.random.seed(0)
    grew = 0
    for i in range(len(dataset)):
        out, ref = dataset[i], plain[i]
        assert 'mix_results' not in out
        shape_px = np.isin(out['gt_seg_map'], (1, 2, 3)).sum()
        ref_px = np.isin(ref['gt_seg_map'], (1, 2, 3)).sum()
        changed = out['gt_seg_map'] != ref['gt_seg_map']
        if changed.any():  # where the label changed, the image changed with it
            img_diff = np.abs(out['img'].astype(int) - ref['img'].astype(int)).sum(-1)
            assert (img_diff[changed] > 0).mean() > 0.9
        grew += shape_px > ref_px
    assert grew >= len(dataset) // 2
