"""Detectors built with an FPN whose in_channels do not match the backbone's output channels
fail when built, naming model.neck.in_channels and both lists (not a conv shape error)."""
import re

import pytest
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.hub import get_config

import mmsdt.models  # noqa: F401
from mmsdt.models.stride_check import check_neck_in_channels

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')


def _mask_rcnn(neck_in_channels, arch='2.7m'):
    cfg = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model
    cfg.type = 'mmsdt.StrideCheckedMaskRCNN'
    cfg.backbone = dict(type='mmsdt.ESpikeFormer', arch=arch, stage4_stride=2)
    cfg.neck = dict(type='FPN', in_channels=neck_in_channels, out_channels=16, num_outs=5,
                    conv_cfg=dict(type='mmsdt.SpikeConv2d'))
    cfg.rpn_head.update(type='mmsdt.SpikeRPNHead', in_channels=16, feat_channels=16)
    for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
        cfg.roi_head[name].update(out_channels=16)
    cfg.roi_head.bbox_head.update(in_channels=16, fc_out_channels=32, num_classes=3)
    cfg.roi_head.mask_head.update(in_channels=16, conv_out_channels=16, num_convs=1,
                                  num_classes=3)
    return MODELS.build(cfg)


@pytest.mark.parametrize('given', [[24, 48, 96, 256], [48, 96, 128], [64, 128, 256, 360]],
                         ids=['one-wrong', 'one-missing', 'another-arch'])
def test_wrong_fpn_in_channels_name_the_config_key(given):
    with pytest.raises(ValueError, match=re.escape(
            f'model.neck.in_channels = {given}, but the backbone produces 4 levels with '
            '[24, 48, 96, 128] channels; set model.neck.in_channels to [24, 48, 96, 128]')):
        _mask_rcnn(given)


def test_matching_in_channels_build():
    assert _mask_rcnn([24, 48, 96, 128]).feature_strides == (4, 8, 16, 32, 64)


def test_necks_without_a_channel_list_are_not_checked():
    class Neck:
        in_channels = 256  # a single-input neck

    check_neck_in_channels(Neck(), [24, 48])
    check_neck_in_channels(object(), [24, 48])
