"""Spiking RetinaNet head."""
from typing import Optional, Tuple

import torch
from mmdet.models.dense_heads import RetinaHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import integer_spike_cfg, spike_conv_module


@MODELS.register_module()
class SpikeRetinaHead(RetinaHead):
    """RetinaNet head with an integer spike before every conv.

    Each of the stacked cls / reg convs and the final ``retina_cls`` / ``retina_reg`` convs
    consumes spikes of its own (stateless MultiSpike neurons, so no state can leak from the
    cls branch into the reg branch as with the upstream LIF head). The stacked convs are
    Kaiming-initialised so their neurons fire from the start (as in :class:`SpikeRPNHead`).
    Losses, anchors and prediction are mmdet's :class:`RetinaHead`.

    Args:
        spike_cfg (dict, optional): MultiSpike arguments; ``norm`` defaults to 1 (integer
            spikes, see :func:`mmsdt.models.utils.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's RetinaHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        self._spike_cfg = integer_spike_cfg(spike_cfg)
        super().__init__(*args, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()

        def spikes(n):
            return nn.ModuleList(MultiSpike(**self._spike_cfg) for _ in range(n))

        self.cls_spikes = spikes(self.stacked_convs + 1)
        self.reg_spikes = spikes(self.stacked_convs + 1)

    def init_weights(self) -> None:
        super().init_weights()
        for module in [*self.cls_convs, *self.reg_convs]:
            nn.init.kaiming_normal_(module.conv.weight, mode='fan_in', nonlinearity='relu')

    def forward_single(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        cls_feat = reg_feat = x
        for conv, spike in zip(self.cls_convs, self.cls_spikes):
            cls_feat = spike_conv_module(conv, spike(cls_feat))
        for conv, spike in zip(self.reg_convs, self.reg_spikes):
            reg_feat = spike_conv_module(conv, spike(reg_feat))
        cls_score = spike_conv_module(self.retina_cls, self.cls_spikes[-1](cls_feat))
        bbox_pred = spike_conv_module(self.retina_reg, self.reg_spikes[-1](reg_feat))
        return cls_score, bbox_pred
