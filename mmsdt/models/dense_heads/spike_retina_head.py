"""Spiking RetinaNet head."""
from typing import Optional

from mmdet.models.dense_heads import RetinaHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeConv2d, as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeRetinaHead(RetinaHead):
    """mmdet's RetinaHead with every conv fed by integer spikes.

    The stacked cls / reg convs are spiking through the stock ``conv_cfg`` (default
    ``dict(type=SpikeConv2d, spike_cfg=spike_cfg)``); the final ``retina_cls`` /
    ``retina_reg``, which the stock head builds as plain ``nn.Conv2d``, are swapped for the
    :class:`~mmsdt.snn.SpikeConv2d` that takes over their parameters
    (:func:`~mmsdt.snn.as_spiking`). Each conv has its own stateless neuron, so nothing leaks
    from the cls branch into the reg branch (as with the upstream LIF head). Forward, losses,
    anchors and prediction are mmdet's :class:`RetinaHead` unchanged.

    The stacked convs are Kaiming-initialised (fan-in) so that their neurons fire from the
    start; with the stock ``Normal(std=0.01)`` their outputs stay below the first threshold
    (0.5) and the branch passes no spikes on (see :class:`SpikeRPNHead`).

    Args:
        spike_cfg (dict, optional): MultiSpike arguments of every spiking conv; ``norm``
            defaults to 1 (integer spikes, see :func:`mmsdt.snn.integer_spike_cfg`).
        conv_cfg (dict, optional): layer config of the stacked convs; defaults to the spiking
            conv above.
        **kwargs: the arguments of mmdet's RetinaHead.
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, conv_cfg: Optional[dict] = None,
                 **kwargs):
        self.spike_cfg = integer_spike_cfg(spike_cfg)  # used by _init_layers
        if conv_cfg is None:
            conv_cfg = dict(type=SpikeConv2d, spike_cfg=self.spike_cfg)
        super().__init__(*args, conv_cfg=conv_cfg, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        self.retina_cls = as_spiking(self.retina_cls, self.spike_cfg)
        self.retina_reg = as_spiking(self.retina_reg, self.spike_cfg)

    def init_weights(self) -> None:
        """The stock init, then Kaiming (fan-in) for the stacked convs."""
        super().init_weights()
        for module in [*self.cls_convs, *self.reg_convs]:
            nn.init.kaiming_normal_(module.conv.weight, mode='fan_in', nonlinearity='relu')
