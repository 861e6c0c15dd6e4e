"""Spiking RPN head."""
from typing import Optional

from mmdet.models.dense_heads import RPNHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn.layers import as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeRPNHead(RPNHead):
    """mmdet's RPNHead with every conv fed by integer spikes.

    The stock head builds ``rpn_conv`` (or, with ``num_convs > 1``, the convs of its
    ConvModules), ``rpn_cls`` and ``rpn_reg`` as plain ``nn.Conv2d`` with no config to change
    them, so this subclass swaps each for the :class:`~mmsdt.snn.SpikeConv2d` that takes over
    its parameters (:func:`~mmsdt.snn.as_spiking`: same keys, same random stream at
    construction). Only construction and init differ from the stock head: its ``forward``,
    losses, anchors and prediction run unchanged (the stock ReLU before ``rpn_cls`` /
    ``rpn_reg`` is a no-op in front of their spikes, which clamp at 0 as well).

    The stacked convs are Kaiming-initialised: with the stock ``Normal(std=0.01)`` their
    outputs stay far below the firing threshold (0.5), so the following neurons never fire and
    the RPN cannot learn from scratch (measured: firing rate 0.0000 on the toy set).

    Args:
        spike_cfg (dict, optional): MultiSpike arguments of every spiking conv; ``norm``
            defaults to 1 (integer spikes, see :func:`mmsdt.snn.integer_spike_cfg`).
        **kwargs: the arguments of mmdet's RPNHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        self.spike_cfg = integer_spike_cfg(spike_cfg)  # used by _init_layers
        super().__init__(*args, **kwargs)

    def _stacked_convs(self) -> list:
        if isinstance(self.rpn_conv, nn.Sequential):
            return [module.conv for module in self.rpn_conv]
        return [self.rpn_conv]

    def _init_layers(self) -> None:
        super()._init_layers()
        if isinstance(self.rpn_conv, nn.Sequential):
            for module in self.rpn_conv:  # ConvModules built without a conv_cfg
                module.conv = as_spiking(module.conv, self.spike_cfg)
        else:
            self.rpn_conv = as_spiking(self.rpn_conv, self.spike_cfg)
        self.rpn_cls = as_spiking(self.rpn_cls, self.spike_cfg)
        self.rpn_reg = as_spiking(self.rpn_reg, self.spike_cfg)

    def init_weights(self) -> None:
        """The stock init, then Kaiming (fan-in, zero bias) for the stacked convs."""
        super().init_weights()
        for conv in self._stacked_convs():
            nn.init.kaiming_normal_(conv.weight, mode='fan_in', nonlinearity='relu')
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
