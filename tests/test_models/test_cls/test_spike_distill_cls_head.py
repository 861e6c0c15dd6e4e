"""mmsdt.SpikeDistillClsHead: averaging of head and head_kd, the losses, the teacher labels."""
import pytest
import torch
from mmpretrain.structures import DataSample
from torch.nn import functional as F

from mmsdt.models import SpikeDistillClsHead
from mmsdt.registry import MODELS
from mmsdt.snn import SpikeLinear


def _head(**kwargs):
    torch.manual_seed(0)
    head = MODELS.build(dict(type='mmsdt.SpikeDistillClsHead', num_classes=6, in_channels=8,
                             **kwargs))
    head.init_weights()
    with torch.no_grad():
        head.head.bias.uniform_(-1, 1)
        head.head_kd.bias.uniform_(-1, 1)
    return head


def test_prediction_is_the_mean_of_both_heads():
    head = _head()
    feats = (torch.rand(4, 8) * 6 - 1, )
    x = feats[0]
    logits = F.linear(x, head.head.weight, head.head.bias)
    counts = torch.floor(x.clamp(0, 4) + 0.5)  # integer spikes, D = 4, norm 1, half-up
    logits_kd = F.linear(counts, head.head_kd.weight, head.head_kd.bias)
    torch.testing.assert_close(head(feats), (logits + logits_kd) / 2, rtol=0, atol=1e-6)
    scores = torch.stack([s.pred_score for s in head.predict(feats)])
    torch.testing.assert_close(scores, F.softmax((logits + logits_kd) / 2, 1))
    assert isinstance(head.head_kd, SpikeLinear) and type(head.head) is torch.nn.Linear
    assert sorted(head.state_dict()) == ['head.bias', 'head.weight', 'head_kd.bias',
                                         'head_kd.weight']


def test_d_of_the_kd_spike():
    head = _head(max_value=8)
    x = torch.full((1, 8), 6.5)
    expected = F.linear(torch.full((1, 8), 7.), head.head_kd.weight, head.head_kd.bias)
    torch.testing.assert_close(head.forward_heads((x, ))[1], expected)


def _samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_loss_without_teacher_trains_both_heads_on_the_labels():
    head = _head(alpha=0.3)
    x = torch.rand(4, 8) * 4
    labels = torch.tensor([0, 5, 2, 2])
    losses = head.loss((x, ), _samples(labels))
    logits, logits_kd = head.forward_heads((x, ))
    torch.testing.assert_close(losses['loss_head'], 0.7 * F.cross_entropy(logits, labels))
    torch.testing.assert_close(losses['loss_head_kd'], 0.3 * F.cross_entropy(logits_kd, labels))


def test_loss_with_teacher_labels():
    head = _head()
    x = torch.rand(4, 8) * 4
    labels, teacher = torch.tensor([0, 5, 2, 2]), torch.tensor([1, 1, 3, 2])
    losses = head.loss((x, ), _samples(labels), teacher_labels=teacher)
    logits, logits_kd = head.forward_heads((x, ))
    torch.testing.assert_close(losses['loss_head'], 0.5 * F.cross_entropy(logits, labels))
    torch.testing.assert_close(losses['loss_head_kd'], 0.5 * F.cross_entropy(logits_kd, teacher))
    with pytest.raises(ValueError, match='teacher_labels'):
        head.loss((x, ), _samples(labels), teacher_labels=torch.rand(4, 6))


def test_label_smoothing_spares_the_teacher_labels():
    # upstream's hard distillation is plain cross-entropy on the teacher's argmax
    head = _head(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'))
    x = torch.rand(4, 8) * 4
    labels, teacher = torch.tensor([0, 5, 2, 2]), torch.tensor([1, 1, 3, 2])
    logits, logits_kd = head.forward_heads((x, ))
    with_teacher = head.loss((x, ), _samples(labels), teacher_labels=teacher)
    torch.testing.assert_close(with_teacher['loss_head'],
                               0.5 * F.cross_entropy(logits, labels, label_smoothing=0.1))
    torch.testing.assert_close(with_teacher['loss_head_kd'],
                               0.5 * F.cross_entropy(logits_kd, teacher))
    without = head.loss((x, ), _samples(labels))
    torch.testing.assert_close(without['loss_head_kd'],
                               0.5 * F.cross_entropy(logits_kd, labels, label_smoothing=0.1))


def test_soft_labels_of_batch_augments():
    head = _head()
    x = torch.rand(3, 8) * 4
    scores = torch.softmax(torch.randn(3, 6), 1)
    samples = [DataSample().set_gt_score(s) for s in scores]
    losses = head.loss((x, ), samples)
    logits, _ = head.forward_heads((x, ))
    expected = -(scores * F.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(losses['loss_head'], 0.5 * expected)


def test_gradients_reach_both_heads():
    head = _head()
    losses = head.loss((torch.rand(4, 8) * 4, ), _samples([0, 1, 2, 3]))
    sum(losses.values()).backward()
    assert head.head.weight.grad.abs().sum() > 0 and head.head_kd.weight.grad.abs().sum() > 0


def test_bad_alpha():
    with pytest.raises(ValueError, match='alpha'):
        SpikeDistillClsHead(3, 8, alpha=1.5)
