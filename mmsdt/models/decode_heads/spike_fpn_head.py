"""Spiking Semantic-FPN decode head."""
from typing import Optional, Sequence

from mmseg.models.decode_heads import FPNHead

from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeConv2d, as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeFPNHead(FPNHead):
    """Semantic-FPN head (mmseg's :class:`FPNHead`) with integer spikes before every conv.

    Each level runs ``max(1, log2(stride_i / stride_0))`` stages of ``spike -> conv3x3 (+norm,
    act) [-> x2 bilinear upsampling]``; the levels are summed at the finest resolution, then
    ``dropout -> spike -> conv_seg`` (``dropout_ratio`` works as in mmseg). The scale-head
    convs are spiking through the stock ``conv_cfg`` (default
    :class:`~mmsdt.snn.SpikeConv2d` with ``spike_cfg``); ``conv_seg``, which mmseg's
    BaseDecodeHead builds as a plain ``nn.Conv2d``, is swapped for the SpikeConv2d that takes
    over its parameters (:func:`~mmsdt.snn.as_spiking`). The stock ``forward`` runs unchanged.
    ``feature_strides`` must be the strides the backbone and neck really produce
    (``mmsdt.StrideCheckedEncoderDecoder`` checks it when built). Logits come out at
    ``feature_strides[0]``.

    Args:
        feature_strides (Sequence[int]): strides of the input levels, finest first.
        spike_cfg (dict, optional): MultiSpike arguments of every spiking conv; ``norm``
            defaults to 1 (integer spikes 0..D, see :func:`mmsdt.snn.integer_spike_cfg`;
            ``dict(norm=4)`` gives the paper's 0..1 spikes).
        conv_cfg (dict, optional): layer config of the scale-head convs; defaults to the
            spiking conv above.
        **kwargs: the arguments of mmseg's BaseDecodeHead.
    """

    def __init__(self,
                 feature_strides: Sequence[int],
                 spike_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 **kwargs):
        self.spike_cfg = integer_spike_cfg(spike_cfg)
        if conv_cfg is None:
            conv_cfg = dict(type=SpikeConv2d, spike_cfg=self.spike_cfg)
        super().__init__(feature_strides, conv_cfg=conv_cfg, **kwargs)
        self.conv_seg = as_spiking(self.conv_seg, self.spike_cfg)
