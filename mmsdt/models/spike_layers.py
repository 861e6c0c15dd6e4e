"""Registers mmsdt's spiking torch layers in the ``mmsdt`` MODELS registry.

Stock OpenMMLab components build their layers from configs, so a config makes them spiking
without a subclass, e.g. ``conv_cfg=dict(type='mmsdt.SpikeConv2d', spike_cfg=dict(norm=1))``
for mmcv's ConvModule (every conv of mmdet's / mmseg's FPN, the stacked convs of most heads),
``cls_predictor_cfg=dict(type='mmsdt.SpikeLinear')`` for mmdet's BBoxHead or
``predictor_cfg=dict(type='mmsdt.SpikeConv2d')`` for its FCNMaskHead. mmcv's layer builders
look ``'mmsdt.X'`` up through mmengine's root registry, which finds this child by its scope.
"""
from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeConv2d, SpikeConvTranspose2d, SpikeLinear

for _layer in (SpikeConv2d, SpikeLinear, SpikeConvTranspose2d):
    MODELS.register_module(module=_layer)

__all__ = ['SpikeConv2d', 'SpikeLinear', 'SpikeConvTranspose2d']
