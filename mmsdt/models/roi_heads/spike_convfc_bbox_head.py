"""Spiking conv/FC bbox heads for stock mmdet RoI heads."""
from typing import Optional

from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeConv2d, SpikeLinear, as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeConvFCBBoxHead(ConvFCBBoxHead):
    """mmdet's ConvFCBBoxHead with every conv and every FC fed by integer spikes.

    Shared / branch convs are spiking through the stock ``conv_cfg`` and the final ``fc_cls``
    / ``fc_reg`` through ``cls_predictor_cfg`` / ``reg_predictor_cfg`` (defaults:
    :class:`~mmsdt.snn.SpikeConv2d` / :class:`~mmsdt.snn.SpikeLinear` with ``spike_cfg``).
    The shared / branch FCs, which the stock ``_add_conv_fc_branch`` builds as plain
    ``nn.Linear``, are swapped for the SpikeLinear that takes over their parameters
    (:func:`~mmsdt.snn.as_spiking`). So the whole head is spike-driven (the upstream head fed
    ``fc_cls`` / ``fc_reg`` the real-valued FC output); the stock ``forward`` runs unchanged
    (its ReLU after each FC is a no-op in front of the next spike). It works inside stock
    ``StandardRoIHead`` and ``CascadeRoIHead``; all tensors are standard.

    Args:
        spike_cfg (dict, optional): MultiSpike arguments of every spiking layer; ``norm``
            defaults to 1 (integer spikes, see :func:`mmsdt.snn.integer_spike_cfg`).
        conv_cfg, cls_predictor_cfg, reg_predictor_cfg (dict, optional): the stock layer
            configs; each defaults to the spiking layer above.
        **kwargs: the arguments of mmdet's ConvFCBBoxHead.
    """

    def __init__(self,
                 *args,
                 spike_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 cls_predictor_cfg: Optional[dict] = None,
                 reg_predictor_cfg: Optional[dict] = None,
                 **kwargs):
        self.spike_cfg = integer_spike_cfg(spike_cfg)  # used by _add_conv_fc_branch
        super().__init__(
            *args,
            conv_cfg=conv_cfg or dict(type=SpikeConv2d, spike_cfg=self.spike_cfg),
            cls_predictor_cfg=cls_predictor_cfg or dict(type=SpikeLinear,
                                                         spike_cfg=self.spike_cfg),
            reg_predictor_cfg=reg_predictor_cfg or dict(type=SpikeLinear,
                                                        spike_cfg=self.spike_cfg),
            **kwargs)

    def _add_conv_fc_branch(self, *args, **kwargs) -> tuple:
        convs, fcs, last_layer_dim = super()._add_conv_fc_branch(*args, **kwargs)
        return convs, nn.ModuleList(as_spiking(fc, self.spike_cfg) for fc in fcs), last_layer_dim


@MODELS.register_module()
class SpikeShared2FCBBoxHead(SpikeConvFCBBoxHead):
    """Spiking counterpart of mmdet's Shared2FCBBoxHead (2 shared FCs), used by Mask R-CNN.

    Args:
        fc_out_channels (int): width of the shared FCs.
        **kwargs: the arguments of :class:`SpikeConvFCBBoxHead`.
    """

    def __init__(self, fc_out_channels: int = 1024, *args, **kwargs):
        super().__init__(num_shared_convs=0, num_shared_fcs=2, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels,
                         *args, **kwargs)


@MODELS.register_module()
class SpikeShared4Conv1FCBBoxHead(SpikeConvFCBBoxHead):
    """Spiking counterpart of mmdet's Shared4Conv1FCBBoxHead (4 convs + 1 FC), for cascades.

    Args:
        fc_out_channels (int): width of the shared FC.
        **kwargs: the arguments of :class:`SpikeConvFCBBoxHead`.
    """

    def __init__(self, fc_out_channels: int = 1024, *args, **kwargs):
        super().__init__(num_shared_convs=4, num_shared_fcs=1, num_cls_convs=0, num_cls_fcs=0,
                         num_reg_convs=0, num_reg_fcs=0, fc_out_channels=fc_out_channels,
                         *args, **kwargs)
