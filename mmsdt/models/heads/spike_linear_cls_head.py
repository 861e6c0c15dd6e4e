"""Spiking linear classification head (the released E-SpikeFormer ImageNet classifier)."""
from typing import Optional

from mmengine.registry import DefaultScope
from mmpretrain.models.heads import LinearClsHead

from mmsdt.registry import MODELS
from mmsdt.snn.layers import as_spiking, integer_spike_cfg


@MODELS.register_module()
class SpikeLinearClsHead(LinearClsHead):
    """mmpretrain's LinearClsHead with an integer spike before ``fc``.

    ``forward(feats) = fc(MultiSpike(feats[-1]))``: the classifier of the released SDT-V3
    ImageNet models (reference §2.2), whose pooled stage-4 features pass an integer spike
    (0..D, ``norm=1``) before the Linear layer. Put it after mmpretrain's
    ``GlobalAveragePooling`` neck, which returns a tuple of (B, C) tensors; the stock
    ``pre_logits`` takes the last one.

    The stock head builds ``self.fc`` as a plain ``nn.Linear``; it is swapped for the
    :class:`~mmsdt.snn.SpikeLinear` that takes over its parameters
    (:func:`~mmsdt.snn.as_spiking`), so the parameter names stay ``fc.weight`` /
    ``fc.bias`` (what ``tools/model_converters/sdtv3_to_mmsdt.py`` writes under ``head.``),
    the stock ``init_cfg`` (Normal on ``Linear`` layers) initialises it, and the stock
    ``forward`` / ``pre_logits`` / losses run unchanged. It is mmsdt's one classification
    head: the backbone has none (``ESpikeFormer(num_classes=...)`` is an error naming it).

    Args:
        num_classes (int): number of categories.
        in_channels (int): channels of the pooled features (C3 of the backbone).
        spike_cfg (dict, optional): MultiSpike arguments of the spike before ``fc``;
            default ``D=4``, ``norm=1`` (integer spikes, see
            :func:`mmsdt.snn.integer_spike_cfg`), half-to-even rounding.
        **kwargs: the arguments of mmpretrain's LinearClsHead (``loss``, ``topk``,
            ``cal_acc``, ``init_cfg``).

    Example:
        >>> head = SpikeLinearClsHead(num_classes=10, in_channels=128)
        >>> sorted(head.state_dict())
        ['fc.bias', 'fc.weight']
    """

    def __init__(self, num_classes: int, in_channels: int,
                 spike_cfg: Optional[dict] = None, **kwargs):
        # The stock head builds its loss from mmpretrain's registry: pin that scope so the
        # head builds the same whatever default scope the caller (or a runner) left behind.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(num_classes=num_classes, in_channels=in_channels, **kwargs)
        self.spike_cfg = integer_spike_cfg(spike_cfg)
        self.fc = as_spiking(self.fc, self.spike_cfg)
