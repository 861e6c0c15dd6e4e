"""Classification head of the MS-ResNets: LIF, global average, per-step linear, mean over T."""
from typing import Sequence, Union

import torch
from mmpretrain.models.heads import ClsHead
from torch import nn

from mmsdt.registry import MODELS
from .lif import build_lif


@MODELS.register_module()
class TimeAveragedClsHead(ClsHead):
    """mmpretrain ``ClsHead`` on ``[T, B, C, H, W]`` features: ``LIF -> mean over H, W ->
    Linear (per step) -> mean over T`` (the official head; the loss is on the T-mean logits).

    Args:
        num_classes (int), in_channels (int): of the linear layer.
        neuron (str | dict): LIF preset or arguments.
        **kwargs: ``ClsHead`` arguments (``loss``, ``topk``, ``cal_acc``, ``init_cfg``).
    """

    def __init__(self, num_classes: int, in_channels: int,
                 neuron: Union[str, dict] = 'cifar', **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.lif = build_lif(neuron)
        self.fc = nn.Linear(in_channels, num_classes)

    def pre_logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        if x.dim() != 5:
            raise ValueError(f'TimeAveragedClsHead expects [T, B, C, H, W] features, got '
                             f'{tuple(x.shape)}')
        return self.lif(x).mean((3, 4))  # T, B, C

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fc(self.pre_logits(feats)).mean(0)
