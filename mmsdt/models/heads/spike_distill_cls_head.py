"""The two-branch classifier of the large SDT-V3 models: ``head`` + ``head_kd``."""
from typing import List, Optional, Tuple

import torch
from mmengine.registry import DefaultScope
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.snn.layers import SpikeLinear


@MODELS.register_module()
class SpikeDistillClsHead(ClsHead):
    """Classifier of the 83M / 171M models (reference §3.1): two Linear layers on the pooled
    (B, C) feature, their logits averaged for prediction.

    * ``head``: Linear on the real-valued token mean (an analog input: the energy counter
      bills it as MACs, not as synaptic operations);
    * ``head_kd``: Linear on ``MultiSpike(max_value=D, norm=1)`` of the same mean (integer
      spikes, half-up rounding; billed as SOPs), a :class:`~mmsdt.snn.SpikeLinear`.

    ``forward`` (and so ``predict``) returns ``(head + head_kd) / 2``. ``loss`` trains both:
    ``(1 - alpha) CE(head, y) + alpha CE(head_kd, y_kd)``, where ``y`` are the data samples'
    labels (hard, or the soft scores of mmpretrain's batch augments) and ``y_kd`` the
    teacher's hard labels when given (hard distillation, as the paper's CAFormer teacher),
    else ``y``. The teacher term uses ``kd_loss`` (plain cross-entropy by default, as
    upstream's hard distillation: no label smoothing of the teacher's labels); the label
    terms use ``loss``. Put it after mmpretrain's ``GlobalAveragePooling`` neck.

    Args:
        num_classes (int): number of categories.
        in_channels (int): channels of the pooled feature (C2 of the backbone).
        max_value (int): D of the spike before ``head_kd`` (as the backbone's).
        rounding (str): rounding of that spike (``'half_up'``, the large models').
        alpha (float): weight of the ``head_kd`` loss.
        kd_loss (dict): mmpretrain loss config of ``head_kd`` against teacher labels.
            Defaults to ``CrossEntropyLoss``.
        **kwargs: mmpretrain ClsHead's ``loss``, ``topk``, ``cal_acc``, ``init_cfg``
            (default: Xavier-uniform weights, zero biases, as upstream).

    Example:
        >>> head = SpikeDistillClsHead(num_classes=10, in_channels=64)
        >>> sorted(head.state_dict())
        ['head.bias', 'head.weight', 'head_kd.bias', 'head_kd.weight']
    """

    def __init__(self, num_classes: int, in_channels: int, max_value: int = 4,
                 rounding: str = 'half_up', alpha: float = 0.5,
                 kd_loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = dict(type='Xavier', layer='Linear',
                                                 distribution='uniform'),
                 **kwargs):
        # the stock head builds its loss from mmpretrain's registry
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(init_cfg=init_cfg, **kwargs)
            self.kd_loss_module = MODELS.build(kd_loss)
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.alpha = float(alpha)
        self.head = nn.Linear(in_channels, num_classes)
        self.head_kd = SpikeLinear(
            in_channels, num_classes,
            spike_cfg=dict(max_value=max_value, norm=1, rounding=rounding,
                           include_boundary=False))

    def forward_heads(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """The logits of ``head`` and of ``head_kd``."""
        x = self.pre_logits(feats)
        return self.head(x), self.head_kd(x)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """The prediction logits: the mean of ``head`` and ``head_kd``."""
        logits, logits_kd = self.forward_heads(feats)
        return (logits + logits_kd) / 2

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List,
             teacher_labels: Optional[torch.Tensor] = None, **kwargs) -> dict:
        """``loss_head`` = (1 - alpha) ``loss``(head, labels) and ``loss_head_kd`` = alpha
        ``kd_loss``(head_kd, teacher_labels) if teacher labels are given, else alpha
        ``loss``(head_kd, labels).

        Args:
            feats (tuple[Tensor]): pooled features; the last one (B, C) is used.
            data_samples (list[DataSample]): with ``gt_label`` or ``gt_score``.
            teacher_labels (Tensor, optional): hard teacher labels (B, ).
        """
        logits, logits_kd = self.forward_heads(feats)
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
        else:
            target = torch.cat([s.gt_label for s in data_samples])
        kd_target, kd_loss = target, self.loss_module
        if teacher_labels is not None:
            teacher_labels = torch.as_tensor(teacher_labels, device=logits.device)
            if teacher_labels.shape != (logits.shape[0], ) or teacher_labels.is_floating_point():
                raise ValueError(f'teacher_labels must be integer class indices of shape '
                                 f'({logits.shape[0]},), got {teacher_labels.dtype} '
                                 f'{tuple(teacher_labels.shape)}')
            kd_target, kd_loss = teacher_labels, self.kd_loss_module
        n = logits.size(0)
        losses = dict(
            loss_head=(1 - self.alpha) * self.loss_module(logits, target, avg_factor=n, **kwargs),
            loss_head_kd=self.alpha * kd_loss(logits_kd, kd_target, avg_factor=n, **kwargs))
        if self.cal_acc:
            if target.ndim != 1:
                raise ValueError('cal_acc needs hard labels; batch augments give soft scores')
            acc = Accuracy.calculate((logits + logits_kd) / 2, target, topk=self.topk)
            losses.update({f'accuracy_top-{k}': a for k, a in zip(self.topk, acc)})
        return losses
