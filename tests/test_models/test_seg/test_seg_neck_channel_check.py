"""The stride-checked segmentor fails when built if its FPN's in_channels do not match the
backbone's output channels, naming model.neck.in_channels and both lists."""
import pytest
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

import mmsdt.models  # noqa: F401

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmseg_scope')


def _segmentor(neck_in_channels):
    return MODELS.build(dict(
        type='mmsdt.StrideCheckedEncoderDecoder',
        backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(1, 2, 3, 4)),
        neck=dict(type='FPN', in_channels=neck_in_channels, out_channels=16, num_outs=4,
                  conv_cfg=dict(type='mmsdt.SpikeConv2d')),
        decode_head=dict(type='mmsdt.SpikeFPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                         feature_strides=[4, 8, 16, 16], channels=16, num_classes=4)))


def test_wrong_fpn_in_channels_name_the_config_key():
    with pytest.raises(ValueError, match=r'model\.neck\.in_channels = \[32, 64, 128, 256\], but '
                       r'the backbone produces 4 levels with \[24, 48, 96, 128\] channels; set '
                       r'model\.neck\.in_channels to \[24, 48, 96, 128\]'):
        _segmentor([32, 64, 128, 256])
    assert _segmentor([24, 48, 96, 128]).feature_strides == (4, 8, 16, 16)
