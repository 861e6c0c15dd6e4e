"""Spiking conv/FC bbox heads for stock mmdet RoI heads."""
from typing import Optional, Tuple

import torch
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import integer_spike_cfg, spike_conv_module


@MODELS.register_module()
class SpikeConvFCBBoxHead(ConvFCBBoxHead):
    """mmdet's ConvFCBBoxHead with an integer spike before every conv and every FC.

    Shared convs/FCs, branch convs/FCs and the final ``fc_cls`` / ``fc_reg`` all consume
    spikes, so the whole head is spike-driven (the upstream head fed ``fc_cls``/``fc_reg`` the
    real-valued FC output). The inter-FC ReLU is dropped (the next spike clamps at 0). It
    works inside stock ``StandardRoIHead`` and ``CascadeRoIHead``; all tensors are standard.

    Args:
        spike_cfg (dict, optional): MultiSpike arguments; ``norm`` defaults to 1 (integer
            spikes, see :func:`mmsdt.models.utils.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's ConvFCBBoxHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        spike_cfg = integer_spike_cfg(spike_cfg)

        def spikes(layers):
            return nn.ModuleList(MultiSpike(**spike_cfg) for _ in layers)

        self.shared_conv_spikes = spikes(self.shared_convs)
        self.shared_fc_spikes = spikes(self.shared_fcs)
        self.cls_conv_spikes, self.cls_fc_spikes = spikes(self.cls_convs), spikes(self.cls_fcs)
        self.reg_conv_spikes, self.reg_fc_spikes = spikes(self.reg_convs), spikes(self.reg_fcs)
        self.cls_out_spike = MultiSpike(**spike_cfg)
        self.reg_out_spike = MultiSpike(**spike_cfg)

    def _branch(self, x, convs, conv_spikes, fcs, fc_spikes):
        for conv, spike in zip(convs, conv_spikes):
            x = spike_conv_module(conv, spike(x))
        if len(fcs) and x.dim() > 2:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
        for fc, spike in zip(fcs, fc_spikes):
            x = spike_conv_module(fc, spike(x))
        return x

    def forward(self, x: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        x = self._branch(x, self.shared_convs, self.shared_conv_spikes, self.shared_fcs,
                         self.shared_fc_spikes)
        x_cls = self._branch(x, self.cls_convs, self.cls_conv_spikes, self.cls_fcs,
                             self.cls_fc_spikes)
        x_reg = self._branch(x, self.reg_convs, self.reg_conv_spikes, self.reg_fcs,
                             self.reg_fc_spikes)
        if x_cls.dim() > 2:
            x_cls = x_cls.flatten(1)
        if x_reg.dim() > 2:
            x_reg = x_reg.flatten(1)
        cls_score = spike_conv_module(self.fc_cls, self.cls_out_spike(x_cls)) \
            if self.with_cls else None
        bbox_pred = spike_conv_module(self.fc_reg, self.reg_out_spike(x_reg)) \
            if self.with_reg else None
        return cls_score, bbox_pred


@MODELS.register_module()
class SpikeShared2FCBBoxHead(SpikeConvFCBBoxHead):
    """Spiking counterpart of mmdet's Shared2FCBBoxHead (2 shared FCs), used by Mask R-CNN."""

    def __init__(self, fc_out_channels: int = 1024, *args, **kwargs):
        super().__init__(num_shared_convs=0, num_shared_fcs=2, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels,
                         *args, **kwargs)


@MODELS.register_module()
class SpikeShared4Conv1FCBBoxHead(SpikeConvFCBBoxHead):
    """Spiking counterpart of mmdet's Shared4Conv1FCBBoxHead (4 convs + 1 FC), for cascades."""

    def __init__(self, fc_out_channels: int = 1024, *args, **kwargs):
        super().__init__(num_shared_convs=4, num_shared_fcs=1, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels,
                         *args, **kwargs)
