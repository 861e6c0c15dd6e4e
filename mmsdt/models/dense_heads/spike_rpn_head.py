"""Spiking RPN head."""
from typing import Optional, Tuple

import torch
from mmdet.models.dense_heads import RPNHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import integer_spike_cfg, spike_conv_module


@MODELS.register_module()
class SpikeRPNHead(RPNHead):
    """RPN head with integer spikes: ``S -> conv3x3``, then ``S -> 1x1 cls / 1x1 reg``.

    The ReLU of the stock head is dropped (the next spike clamps at 0 anyway). With
    ``num_convs > 1`` each stacked ConvModule gets its own spike. The stacked convs are
    Kaiming-initialised: with the stock ``Normal(std=0.01)`` their outputs stay far below the
    firing threshold (0.5 for D=4), so the following neuron never fires and the RPN cannot
    learn from scratch (measured: firing rate 0.0000 on the toy set). Losses, anchors and
    prediction are mmdet's :class:`RPNHead` unchanged; all tensors are 4-D.

    Args:
        spike_cfg (dict, optional): MultiSpike arguments; ``norm`` defaults to 1 (integer
            spikes, see :func:`mmsdt.models.utils.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's RPNHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        self._spike_cfg = integer_spike_cfg(spike_cfg)
        super().__init__(*args, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        n_convs = len(self.rpn_conv) if isinstance(self.rpn_conv, nn.Sequential) else 1
        self.conv_spikes = nn.ModuleList(MultiSpike(**self._spike_cfg) for _ in range(n_convs))
        self.out_spike = MultiSpike(**self._spike_cfg)

    def init_weights(self) -> None:
        super().init_weights()
        convs = self.rpn_conv if isinstance(self.rpn_conv, nn.Sequential) else [self.rpn_conv]
        for conv in convs:
            conv = getattr(conv, 'conv', conv)
            nn.init.kaiming_normal_(conv.weight, mode='fan_in', nonlinearity='relu')
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)

    def forward_single(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        convs = self.rpn_conv if isinstance(self.rpn_conv, nn.Sequential) else [self.rpn_conv]
        for conv, spike in zip(convs, self.conv_spikes):
            x = spike_conv_module(conv, spike(x))
        s = self.out_spike(x)
        return spike_conv_module(self.rpn_cls, s), spike_conv_module(self.rpn_reg, s)
