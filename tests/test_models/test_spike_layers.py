"""The registered spiking layers make stock OpenMMLab components spiking through their own
layer configs (mmcv ConvModule ``conv_cfg``, mmdet BBoxHead / FCNMaskHead predictor configs)."""
import pytest
import torch
from mmcv.cnn import ConvModule, build_conv_layer
from mmengine.registry import DefaultScope

import mmsdt.models  # noqa: F401
from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike, SpikeConv2d, SpikeConvTranspose2d, SpikeLinear


def test_layers_are_registered_under_their_class_names():
    for layer in (SpikeConv2d, SpikeLinear, SpikeConvTranspose2d):
        assert MODELS.get(layer.__name__) is layer


@pytest.mark.parametrize('scope', [None, 'mmdet', 'mmseg', 'mmpretrain'])
def test_conv_module_builds_a_spiking_conv_from_conv_cfg(scope):
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(scope):
        module = ConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN'),
                            conv_cfg=dict(type='mmsdt.SpikeConv2d', spike_cfg=dict(norm=2)))
    assert type(module.conv) is SpikeConv2d and module.conv.spike.norm == 2.0
    assert sorted(module.state_dict()) == sorted(
        ConvModule(4, 8, 3, padding=1, norm_cfg=dict(type='BN')).state_dict())
    x = torch.randn(2, 4, 6, 6) * 3
    expected = module.activate(module.norm(module.conv._conv_forward(
        MultiSpike(norm=2)(x), module.conv.weight, None)))
    assert torch.equal(module(x), expected)


def test_build_conv_layer_resolves_the_scoped_name_without_a_default_scope():
    layer = build_conv_layer(dict(type='mmsdt.SpikeConv2d'), 3, 5, 1)
    assert type(layer) is SpikeConv2d and layer.spike.norm == 1.0


def test_bbox_head_predictors_from_predictor_cfgs(mmdet_scope):
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    head = Shared2FCBBoxHead(in_channels=8, fc_out_channels=16, roi_feat_size=3, num_classes=2,
                             cls_predictor_cfg=dict(type='mmsdt.SpikeLinear'),
                             reg_predictor_cfg=dict(type='mmsdt.SpikeLinear',
                                                    spike_cfg=dict(norm=4)))
    assert type(head.fc_cls) is SpikeLinear and type(head.fc_reg) is SpikeLinear
    assert (head.fc_cls.spike.norm, head.fc_reg.spike.norm) == (1.0, 4.0)
    assert head.fc_cls.in_features == 16 and head.fc_cls.out_features == 3
    cls, reg = head(torch.randn(4, 8, 3, 3))
    assert cls.shape == (4, 3) and reg.shape == (4, 8)


def test_mask_head_logits_from_predictor_cfg(mmdet_scope):
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead
    head = FCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=2,
                       predictor_cfg=dict(type='mmsdt.SpikeConv2d'))
    assert type(head.conv_logits) is SpikeConv2d
    assert head(torch.randn(2, 8, 7, 7)).shape == (2, 2, 14, 14)
