"""Spiking FPN: mmdet's FPN with a MultiSpike before every conv."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.necks import FPN
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn import MultiSpike
from ..utils import integer_spike_cfg, spike_conv_module


@MODELS.register_module()
class SpikeFPN(FPN):
    """FPN whose lateral 1x1, output 3x3 and extra convs each consume integer spikes.

    Same arguments and extra-level behaviour as :class:`mmdet.models.necks.FPN` (it is a
    subclass, so its checkpoints keep mmdet's key names); the top-down path adds the
    real-valued lateral outputs. Inputs and outputs are 4-D (B, C, H, W), so the class serves
    detection and segmentation alike. The neuron is the same in training and evaluation
    (the upstream neck clamped to 1 at evaluation only).

    Args:
        spike_cfg (dict, optional): arguments of every :class:`~mmsdt.snn.MultiSpike`
            (default D=4 and ``norm=1``: integer spikes, see
            :func:`mmsdt.models.utils.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's FPN.

    Output strides: the used input levels keep their strides and every extra level halves
    the resolution (stride x2), whether it comes from an extra conv or from max-pooling.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        spike_cfg = integer_spike_cfg(spike_cfg)
        self.lateral_spikes = nn.ModuleList(MultiSpike(**spike_cfg) for _ in self.lateral_convs)
        self.fpn_spikes = nn.ModuleList(MultiSpike(**spike_cfg) for _ in self.fpn_convs)

    def _spiking(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return spike_conv_module(self.fpn_convs[index], self.fpn_spikes[index](x))

    def forward(self, inputs: Tuple[torch.Tensor]) -> tuple:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'SpikeFPN expects {len(self.in_channels)} input levels '
                             f'(in_channels={self.in_channels}), got {len(inputs)}')
        laterals = [
            spike_conv_module(conv, spike(inputs[i + self.start_level]))
            for i, (conv, spike) in enumerate(zip(self.lateral_convs, self.lateral_spikes))
        ]
        used = len(laterals)
        for i in range(used - 1, 0, -1):
            if 'scale_factor' in self.upsample_cfg:
                up = F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                up = F.interpolate(laterals[i], size=laterals[i - 1].shape[2:],
                                   **self.upsample_cfg)
            laterals[i - 1] = laterals[i - 1] + up
        outs = [self._spiking(i, laterals[i]) for i in range(used)]
        if self.num_outs > len(outs):
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                source = {
                    'on_input': inputs[self.backbone_end_level - 1],
                    'on_lateral': laterals[-1],
                    'on_output': outs[-1],
                }[self.add_extra_convs]
                outs.append(self._spiking(used, source))
                for i in range(used + 1, self.num_outs):
                    # the spike replaces relu_before_extra_convs: it clamps at 0 as well
                    outs.append(self._spiking(i, outs[-1]))
        return tuple(outs)
