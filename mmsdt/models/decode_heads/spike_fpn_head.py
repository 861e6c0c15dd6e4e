"""Spiking Semantic-FPN decode head."""
from typing import Optional

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads import FPNHead
from mmseg.models.utils import resize
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import spike_conv_module


@MODELS.register_module()
class SpikeFPNHead(FPNHead):
    """Semantic-FPN head (mmseg's :class:`FPNHead`) with an integer spike before every conv.

    Each level runs ``max(1, log2(stride_i / stride_0))`` stages of ``spike -> conv3x3 (+norm,
    act) [-> x2 bilinear upsampling]``; the levels are summed at the finest resolution, then
    ``dropout -> spike -> conv_seg`` (``dropout_ratio`` works as in mmseg). ``feature_strides``
    must be the strides the backbone and neck really produce (``mmsdt.SpikeEncoderDecoder``
    checks it when built). Logits come out at ``feature_strides[0]``.

    Args:
        feature_strides (Sequence[int]): strides of the input levels, finest first.
        spike_cfg (dict, optional): MultiSpike arguments.
        **kwargs: the arguments of mmseg's BaseDecodeHead.
    """

    def __init__(self, feature_strides, spike_cfg: Optional[dict] = None, **kwargs):
        super().__init__(feature_strides, **kwargs)
        spike_cfg = dict(spike_cfg or {})
        self.scale_spikes = nn.ModuleList(
            nn.ModuleList(MultiSpike(**spike_cfg) for m in head if isinstance(m, ConvModule))
            for head in self.scale_heads)
        self.seg_spike = MultiSpike(**spike_cfg)

    def _scale_head(self, i: int, x: torch.Tensor) -> torch.Tensor:
        spikes = iter(self.scale_spikes[i])
        for layer in self.scale_heads[i]:
            x = spike_conv_module(layer, next(spikes)(x)) if isinstance(layer, ConvModule) \
                else layer(x)
        return x

    def forward(self, inputs):
        x = self._transform_inputs(inputs)
        output = self._scale_head(0, x[0])
        for i in range(1, len(self.feature_strides)):
            output = output + resize(self._scale_head(i, x[i]), size=output.shape[2:],
                                     mode='bilinear', align_corners=self.align_corners)
        return self.cls_seg(output)

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        if self.dropout is not None:
            feat = self.dropout(feat)
        return spike_conv_module(self.conv_seg, self.seg_spike(feat))
