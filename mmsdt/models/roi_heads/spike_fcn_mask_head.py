"""Spiking FCN mask head."""
from typing import Optional

import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import integer_spike_cfg, spike_conv_module


@MODELS.register_module()
class SpikeFCNMaskHead(FCNMaskHead):
    """mmdet's FCNMaskHead with an integer spike before each conv, the deconv and the logits.

    ``upsample`` and ``conv_logits`` stay the stock attributes (not wrapped), so the stock
    ``init_weights`` really initialises them (Kaiming, zero bias); the upstream head wrapped
    them and left PyTorch's default init. Non-learned upsampling (nearest/bilinear) gets no
    spike: it is not a synaptic layer.

    Args:
        spike_cfg (dict, optional): MultiSpike arguments; ``norm`` defaults to 1 (integer
            spikes, see :func:`mmsdt.models.utils.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's FCNMaskHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        spike_cfg = integer_spike_cfg(spike_cfg)
        self.conv_spikes = nn.ModuleList(MultiSpike(**spike_cfg) for _ in self.convs)
        self.upsample_spike = MultiSpike(**spike_cfg) if self.upsample_method == 'deconv' \
            else None
        self.logits_spike = MultiSpike(**spike_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, spike in zip(self.convs, self.conv_spikes):
            x = spike_conv_module(conv, spike(x))
        if self.upsample is not None:
            if self.upsample_spike is not None:
                x = spike_conv_module(self.upsample, self.upsample_spike(x))
            else:
                x = self.upsample(x)
        return spike_conv_module(self.conv_logits, self.logits_spike(x))
