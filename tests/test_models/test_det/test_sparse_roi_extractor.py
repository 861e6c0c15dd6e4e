"""SparseSingleRoIExtractor: mmdet's SingleRoIExtractor with SparseRoIAlign; same outputs and
feature gradients as the stock extractor with mmcv's RoIAlign (torchvision path), in float64."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules

import mmsdt.models  # noqa: F401
from mmsdt.ops import SparseRoIAlign

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')
STRIDES = [4, 8, 16, 32]


def _extractor(type_, **layer):
    roi_layer = dict(type='RoIAlign', output_size=7, sampling_ratio=0, use_torchvision=True)
    roi_layer.update(layer)
    return MODELS.build(dict(type=type_, roi_layer=roi_layer, out_channels=6,
                             featmap_strides=STRIDES))


def test_same_as_stock_extractor_in_float64():
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 6, 128 // s, 96 // s, generator=g, dtype=torch.float64,
                         requires_grad=True) for s in STRIDES]
    # boxes of every scale so that all four levels get RoIs (56-px level boundaries, x 2)
    wh = torch.tensor([[10., 12.], [40., 30.], [150., 120.], [250., 300.], [500., 480.]],
                      dtype=torch.float64).repeat(4, 1)
    xy = torch.rand(wh.shape[0], 2, generator=g, dtype=torch.float64) * 60
    image = torch.arange(wh.shape[0], dtype=torch.float64)[:, None] % 2
    rois = torch.cat([image, xy, xy + wh], 1)
    stock, sparse = _extractor('SingleRoIExtractor'), _extractor('mmsdt.SparseSingleRoIExtractor')
    assert all(isinstance(layer, SparseRoIAlign) for layer in sparse.roi_layers)
    assert [layer.spatial_scale for layer in sparse.roi_layers] == [1 / s for s in STRIDES]
    assert len(set(stock.map_roi_levels(rois, 4).tolist())) == 4
    ref, out = stock(tuple(feats), rois), sparse(tuple(feats), rois)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    grad = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    ref_grads = torch.autograd.grad(ref, feats, grad)
    out_grads = torch.autograd.grad(out, feats, grad)
    for a, b in zip(out_grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_other_roi_layers_are_refused_by_name():
    with pytest.raises(ValueError, match="roi_layer type 'RoIPool' is not supported"):
        _extractor('mmsdt.SparseSingleRoIExtractor', type='RoIPool')


def _feats_and_rois(seed):
    g = torch.Generator().manual_seed(seed)
    feats = tuple(torch.randn(2, 6, 128 // s, 96 // s, generator=g, dtype=torch.float64)
                  for s in STRIDES)
    wh = torch.tensor([[10., 12.], [40., 30.], [150., 120.], [250., 300.]],
                      dtype=torch.float64).repeat(3, 1)
    xy = torch.rand(wh.shape[0], 2, generator=g, dtype=torch.float64) * 60
    image = torch.arange(wh.shape[0], dtype=torch.float64)[:, None] % 2
    return feats, torch.cat([image, xy, xy + wh], 1)


def test_roi_scale_factor_as_stock_extractor():
    feats, rois = _feats_and_rois(1)
    stock, sparse = _extractor('SingleRoIExtractor'), _extractor('mmsdt.SparseSingleRoIExtractor')
    torch.testing.assert_close(sparse(feats, rois, roi_scale_factor=1.5),
                               stock(feats, rois, roi_scale_factor=1.5), rtol=0, atol=1e-12)


def test_single_level_applies_roi_scale_factor():
    feats, rois = _feats_and_rois(2)
    roi_layer = dict(type='RoIAlign', output_size=7, sampling_ratio=0)
    sparse = MODELS.build(dict(type='mmsdt.SparseSingleRoIExtractor', roi_layer=roi_layer,
                               out_channels=6, featmap_strides=[4]))
    scaled = sparse.roi_rescale(rois, 2.0)
    torch.testing.assert_close(sparse(feats[:1], rois, roi_scale_factor=2.0),
                               sparse(feats[:1], scaled), rtol=0, atol=0)


def test_feature_map_count_must_match_strides():
    feats, rois = _feats_and_rois(3)
    with pytest.raises(ValueError, match=r'got 3 feature maps for 4 featmap_strides'):
        _extractor('mmsdt.SparseSingleRoIExtractor')(feats[:3], rois)
