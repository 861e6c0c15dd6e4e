"""Spiking FCN mask head."""
from typing import Optional

from mmdet.models.roi_heads.mask_heads import FCNMaskHead

from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeConv2d, as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeFCNMaskHead(FCNMaskHead):
    """mmdet's FCNMaskHead with integer spikes before each conv, the deconv and the logits.

    The convs are spiking through the stock ``conv_cfg`` and ``conv_logits`` through
    ``predictor_cfg`` (defaults: :class:`~mmsdt.snn.SpikeConv2d` with ``spike_cfg``). The
    stock head builds its ``'deconv'`` upsampling as a plain transposed conv (mmcv's
    ``ConvTranspose2d``) whatever the config says, so that one is swapped for the
    :class:`~mmsdt.snn.SpikeConvTranspose2d` that takes over its parameters
    (:func:`~mmsdt.snn.as_spiking`). Non-learned upsampling
    (nearest / bilinear) gets no spike: it is not a synaptic layer. ``upsample`` and
    ``conv_logits`` keep their stock names and have ``weight`` / ``bias``, so the stock
    ``init_weights`` initialises them (Kaiming, zero bias), and the stock ``forward`` runs
    unchanged (its ReLU after the deconv is a no-op in front of the logits' spike).

    Args:
        spike_cfg (dict, optional): MultiSpike arguments of every spiking layer; ``norm``
            defaults to 1 (integer spikes, see :func:`mmsdt.snn.integer_spike_cfg`).
        conv_cfg, predictor_cfg (dict, optional): the stock layer configs; each defaults to
            the spiking conv above.
        **kwargs: the arguments of mmdet's FCNMaskHead.
    """

    def __init__(self,
                 *args,
                 spike_cfg: Optional[dict] = None,
                 conv_cfg: Optional[dict] = None,
                 predictor_cfg: Optional[dict] = None,
                 **kwargs):
        self.spike_cfg = integer_spike_cfg(spike_cfg)
        spiking_conv = dict(type=SpikeConv2d, spike_cfg=self.spike_cfg)
        super().__init__(*args, conv_cfg=conv_cfg or spiking_conv,
                         predictor_cfg=predictor_cfg or spiking_conv, **kwargs)
        if self.upsample_method == 'deconv':
            # mmcv's 'deconv' is its ConvTranspose2d wrapper (torch's, bar a torch < 1.4 case)
            self.upsample = as_spiking(self.upsample, self.spike_cfg, allow_subclass=True)
