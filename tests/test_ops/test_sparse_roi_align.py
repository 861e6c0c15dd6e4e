"""SparseRoIAlign against torchvision's roi_align (the op mmcv's RoIAlign calls with
use_torchvision=True) and against mmcv's own compiled RoIAlign op (its default), in float64:
values and feature gradients equal up to summation order."""
from pathlib import Path

import pytest
import torch
from mmcv.ops import RoIAlign as MmcvRoIAlign
from mmengine.config import Config
from torchvision.ops import roi_align

from mmsdt.ops import SparseRoIAlign, multi_level_roi_align, sparse_roi_align


def _rois(num, num_images, size, generator, dtype=torch.float64):
    xy = torch.rand(num, 2, generator=generator, dtype=dtype) * size * 0.9
    wh = torch.rand(num, 2, generator=generator, dtype=dtype) * size * 0.5
    image = torch.randint(0, num_images, (num, 1), generator=generator).to(dtype)
    rois = torch.cat([image, xy, xy + wh], 1)
    # corner cases: a box covering more than the map, one partly outside, a point, a box
    # hugging the far border, a reversed box
    special = torch.tensor([[0, -40., -40., size + 40., size + 40.],
                            [num_images - 1, -7., size - 9., 12., size + 5.],
                            [0, 10., 10., 10., 10.],
                            [0, size - 3., size - 3., size - 0.5, size - 0.5],
                            [num_images - 1, 30., 30., 20., 25.]], dtype=dtype)
    return torch.cat([rois, special])


@pytest.mark.parametrize('sampling_ratio', [0, 1, 2])
@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('output_size,channels_last', [((7, 7), True), ((14, 9), False)])
def test_equals_torchvision_in_float64(sampling_ratio, aligned, output_size, channels_last):
    generator = torch.Generator().manual_seed(sampling_ratio + 10 * aligned)
    feats = torch.randn(3, 5, 24, 31, generator=generator, dtype=torch.float64)
    if channels_last:
        feats = feats.contiguous(memory_format=torch.channels_last)
    feats.requires_grad_(True)
    rois = _rois(40, 3, 4 * 24, generator)
    ref = roi_align(feats, rois, output_size, 0.25, sampling_ratio, aligned)
    out = sparse_roi_align(feats, rois, output_size, 0.25, sampling_ratio, aligned)
    assert out.shape == ref.shape == (rois.shape[0], 5, *output_size)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad = torch.randn(ref.shape, generator=generator, dtype=torch.float64)
    ref_grad, = torch.autograd.grad(ref, feats, grad)
    out_grad, = torch.autograd.grad(out, feats, grad)
    torch.testing.assert_close(out_grad, ref_grad, rtol=0, atol=1e-12)
    assert ref.abs().sum() > 0 and ref_grad.abs().sum() > 0  # the samples hit the map


REPO = Path(__file__).resolve().parents[2]
TOY_DET = REPO / 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'


def _toy_roi_layers():
    """The box and mask RoI layers of the toy detector, with its FPN strides."""
    head = Config.fromfile(str(TOY_DET)).model.roi_head
    return [(name, dict(extractor.roi_layer), extractor.featmap_strides)
            for name, extractor in (('bbox', head.bbox_roi_extractor),
                                    ('mask', head.mask_roi_extractor))]


def _assert_equals_mmcv(layer_cfg, spatial_scale, seed):
    """Values and feature gradients of SparseRoIAlign and mmcv's compiled RoIAlign (CPU kernel,
    float64) for the same arguments, to 1e-12 (the two differ in summation order only)."""
    args = {k: v for k, v in layer_cfg.items() if k != 'type'}
    ours = SparseRoIAlign(spatial_scale=spatial_scale, **args)
    theirs = MmcvRoIAlign(spatial_scale=spatial_scale, **args)
    assert not theirs.use_torchvision  # mmcv's own op, not torchvision's
    generator = torch.Generator().manual_seed(seed)
    feats = torch.randn(3, 5, 24, 31, generator=generator, dtype=torch.float64,
                        requires_grad=True)
    # mmcv's kernel refuses a reversed box when aligned (an assertion), torchvision and
    # SparseRoIAlign give it an empty bin: every other corner case of _rois is kept
    rois = _rois(40, 3, 24 / spatial_scale, generator)[:-1]
    ref = theirs(feats, rois)
    out = ours(feats, rois)
    assert ref.dtype == out.dtype == torch.float64 and out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad = torch.randn(ref.shape, generator=generator, dtype=torch.float64)
    ref_grad, = torch.autograd.grad(ref, feats, grad)
    out_grad, = torch.autograd.grad(out, feats, grad)
    torch.testing.assert_close(out_grad, ref_grad, rtol=0, atol=1e-12)
    assert ref.abs().sum() > 0 and ref_grad.abs().sum() > 0  # the samples hit the map


@pytest.mark.parametrize('name,layer_cfg,strides', _toy_roi_layers(),
                         ids=[n for n, _, _ in _toy_roi_layers()])
def test_equals_mmcv_roi_align_with_the_toy_detector_settings(name, layer_cfg, strides):
    assert layer_cfg['type'] == 'SparseRoIAlign', name
    for level, stride in enumerate(strides):
        _assert_equals_mmcv(layer_cfg, 1 / stride, seed=level)


@pytest.mark.parametrize('sampling_ratio', [1, 2])
@pytest.mark.parametrize('aligned', [True, False])
def test_equals_mmcv_roi_align_in_float64(sampling_ratio, aligned):
    layer_cfg = dict(output_size=(14, 9), sampling_ratio=sampling_ratio, aligned=aligned)
    _assert_equals_mmcv(layer_cfg, 0.25, seed=sampling_ratio + 10 * aligned)


def test_float32_close_to_torchvision_and_dtype_kept():
    generator = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 8, 20, 20, generator=generator)
    rois = _rois(30, 2, 80, generator, torch.float32)
    ref = roi_align(feats, rois, 7, 0.25, 0, True)
    torch.testing.assert_close(sparse_roi_align(feats, rois, 7, 0.25), ref)
    out = sparse_roi_align(feats.bfloat16(), rois, 7, 0.25)
    assert out.dtype == torch.bfloat16


def test_module_matches_mmcv_roi_align_arguments():
    layer = SparseRoIAlign(output_size=7, spatial_scale=1 / 8, sampling_ratio=2)
    assert layer.output_size == (7, 7) and layer.sampling_ratio == 2
    feats = torch.randn(1, 4, 16, 16, dtype=torch.float64)
    rois = torch.tensor([[0, 10., 20., 90., 100.]], dtype=torch.float64)
    torch.testing.assert_close(layer(feats, rois), roi_align(feats, rois, 7, 1 / 8, 2, True))


def test_no_rois_gives_an_empty_output():
    feats = torch.randn(2, 4, 8, 8, requires_grad=True)
    out = sparse_roi_align(feats, torch.zeros(0, 5), (7, 7), 0.5)
    assert out.shape == (0, 4, 7, 7)


@pytest.mark.parametrize('kwargs,message', [
    (dict(pool_mode='max'), "pool_mode='max'"),
    (dict(sampling_ratio=-1), 'sampling_ratio'),
    (dict(spatial_scale=0.), 'spatial_scale'),
])
def test_bad_arguments_are_named(kwargs, message):
    args = dict(output_size=7, spatial_scale=0.25)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SparseRoIAlign(**args)


def test_bad_shapes_and_image_indices_are_named():
    feats = torch.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match=r'rois must be \(R, 5\).*\(3, 4\)'):
        sparse_roi_align(feats, torch.zeros(3, 4), 7)
    with pytest.raises(ValueError, match=r'input must be \(N, C, H, W\).*\(4, 8, 8\)'):
        sparse_roi_align(feats[0], torch.zeros(3, 5), 7)
    with pytest.raises(ValueError, match=r'image indices outside \[0, 2\)'):
        sparse_roi_align(feats, torch.tensor([[2., 0., 0., 4., 4.]]), 7)


def test_multi_level_equals_per_level_roi_align_in_float64():
    generator = torch.Generator().manual_seed(3)
    feats = [torch.randn(2, 4, size, size + 3, generator=generator, dtype=torch.float64,
                         requires_grad=True) for size in (32, 16, 8)]
    scales = [1 / 4, 1 / 8, 1 / 16]
    rois = _rois(30, 2, 128, generator)
    levels = torch.randint(0, 3, (rois.shape[0], ), generator=generator)
    out = multi_level_roi_align(feats, rois, levels, (7, 5), scales, 0, True)
    ref = torch.zeros_like(out)
    for level, (f, scale) in enumerate(zip(feats, scales)):
        picked = levels == level
        ref[picked] = roi_align(f, rois[picked], (7, 5), scale, 0, True)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad = torch.randn(ref.shape, generator=generator, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(out, feats, grad), torch.autograd.grad(ref, feats, grad)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_multi_level_without_rois_keeps_every_map_in_the_graph():
    feats = [torch.randn(2, 4, s, s, requires_grad=True) for s in (8, 4)]
    out = multi_level_roi_align(feats, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long), 7,
                                [0.5, 0.25])
    assert out.shape == (0, 4, 7, 7)
    grads = torch.autograd.grad(out.sum(), feats)
    assert all(g is not None and g.abs().sum() == 0 for g in grads)


def test_multi_level_bad_inputs_are_named():
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 4, 4, 4)]
    rois = torch.tensor([[0., 1., 1., 5., 5.]])
    with pytest.raises(ValueError, match='2 feature maps and 1 spatial scales'):
        multi_level_roi_align(feats, rois, torch.zeros(1, dtype=torch.long), 7, [0.5])
    with pytest.raises(ValueError, match=r'feats\[1\] has shape \(2, 3, 4, 4\)'):
        multi_level_roi_align([feats[0], torch.randn(2, 3, 4, 4)], rois,
                              torch.zeros(1, dtype=torch.long), 7, [0.5, 0.25])
    with pytest.raises(ValueError, match=r'levels must be \(1, \) values in \[0, 2\)'):
        multi_level_roi_align(feats, rois, torch.tensor([2]), 7, [0.5, 0.25])
