"""EventDataPreprocessor (stacking to (B, T, C, H, W), no mean/std or channel flip, the T
check, batch augmentations in training only) and the EventMix batch augmentation."""
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from mmsdt.models.batch_augments import EventMix
from mmsdt.models.data_preprocessors import EventDataPreprocessor


def _batch(n=4, shape=(3, 3, 5, 6), paths=None):
    torch.manual_seed(0)
    inputs = [torch.randint(0, 4, shape).float() for _ in range(n)]
    samples = [DataSample(metainfo=dict(events_path=p)).set_gt_label(i % 3)
               for i, p in enumerate(paths or [f'rec/{i}.npz' for i in range(n)])]
    return dict(inputs=inputs, data_samples=samples)


def test_stacks_to_btchw_without_mean_std_or_channel_flip():
    data = _batch()
    out = EventDataPreprocessor(num_frames=3)(dict(data), training=False)
    assert out['inputs'].shape == (4, 3, 3, 5, 6) and out['inputs'].dtype == torch.float32
    # C = 3 and the values are unchanged: no BGR -> RGB, no normalisation
    torch.testing.assert_close(out['inputs'], torch.stack(data['inputs']), rtol=0, atol=0)
    assert [s.gt_label.item() for s in out['data_samples']] == [0, 1, 2, 0]
    ints = EventDataPreprocessor()(dict(inputs=[torch.ones(2, 2, 4, 4, dtype=torch.int16)],
                                        data_samples=None))
    assert ints['inputs'].dtype == torch.float32
    stacked = EventDataPreprocessor()(dict(inputs=torch.stack(data['inputs'])))
    assert stacked['inputs'].shape == (4, 3, 3, 5, 6)


def test_t_in_the_data_that_differs_from_the_model_names_both():
    data = _batch(shape=(8, 2, 4, 4))
    with pytest.raises(ValueError, match=r'rec/0.npz: the data has T = 8 frames but the model '
                       r'is configured for num_frames = 4'):
        EventDataPreprocessor(num_frames=4)(data)


def test_samples_of_different_shape_are_named():
    data = _batch(n=2, shape=(4, 2, 4, 4))
    data['inputs'][1] = torch.zeros(5, 2, 4, 4)
    with pytest.raises(ValueError, match=r'rec/1.npz: frames \(5, 2, 4, 4\) .* differ from the '
                       r"batch's first sample rec/0.npz \(4, 2, 4, 4\)"):
        EventDataPreprocessor()(data)
    with pytest.raises(ValueError, match=r'rec/0.npz: expected frames \(T, C, H, W\)'):
        EventDataPreprocessor()(dict(inputs=[torch.zeros(2, 4, 4)],
                                     data_samples=_batch(n=1)['data_samples']))


def test_batch_augment_runs_in_training_only(monkeypatch):
    calls = []
    original = EventMix.__call__

    def spy(self, inputs, scores):
        calls.append(tuple(inputs.shape))
        return original(self, inputs, scores)

    monkeypatch.setattr(EventMix, '__call__', spy)
    pre = EventDataPreprocessor(num_classes=3, batch_augments=dict(
        augments=dict(type='mmsdt.EventMix', alpha=1.0)))
    assert pre.to_onehot  # batch augmentations switch one-hot labels on
    np.random.seed(0)
    torch.manual_seed(0)
    data = _batch()
    stacked = torch.stack(data['inputs'])
    out = pre(_batch(), training=True)
    assert calls == [(4, 3, 3, 5, 6)]
    scores = torch.stack([s.gt_score for s in out['data_samples']])
    assert not torch.equal(out['inputs'], stacked)  # mixed for real
    assert ((scores > 0) & (scores < 1)).any() and torch.allclose(scores.sum(1), torch.ones(4))
    out = pre(_batch(), training=False)
    assert len(calls) == 1  # not in eval
    torch.testing.assert_close(out['inputs'], stacked, rtol=0, atol=0)


def test_cutmix_is_refused_and_the_registry_builds_it():
    with pytest.raises(ValueError, match='CutMix cuts .* use mmsdt.EventMix or Mixup'):
        EventDataPreprocessor(num_classes=3, batch_augments=dict(
            augments=dict(type='CutMix', alpha=1.0)))
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pre = MODELS.build(dict(type='mmsdt.EventDataPreprocessor', num_frames=2))
    assert isinstance(pre, EventDataPreprocessor) and pre.num_frames == 2


def _constant_batch(b=5, shape=(4, 2, 8, 8)):
    """Sample i is the constant i + 1 everywhere, with label i."""
    inputs = torch.stack([torch.full(shape, float(i + 1)) for i in range(b)])
    return inputs, torch.eye(b)


def test_event_mix_label_weight_is_the_mask_fraction():
    mix = EventMix(alpha=1.0, grid=(2, 4, 4))
    for seed in range(5):
        np.random.seed(seed)
        torch.manual_seed(seed)
        inputs, scores = _constant_batch()
        original = inputs.clone()
        mixed, mixed_scores = mix(inputs, scores)
        torch.testing.assert_close(inputs, original, rtol=0, atol=0)  # not in place
        mask = None
        for i in range(len(inputs)):
            changed = mixed[i] != original[i]
            if not changed.any():  # its own partner, or an empty mask: label unchanged
                torch.testing.assert_close(mixed_scores[i], scores[i])
                continue
            if mask is None:
                mask = changed
            assert torch.equal(changed, mask)  # one mask for the whole batch
            partner = mixed[i][mask].unique()
            assert len(partner) == 1  # the masked part comes from one partner j
            j, fraction = int(partner.item()) - 1, mask.float().mean().item()
            assert mixed_scores[i, i].item() == pytest.approx(1 - fraction, abs=1e-6)
            assert mixed_scores[i, j].item() == pytest.approx(fraction, abs=1e-6)
        if mask is not None:
            assert torch.equal(mask[:, 0], mask[:, 1])  # every channel alike


def test_event_mix_mask_varies_over_time():
    mix = EventMix(alpha=1.0, grid=(2, 4, 4))
    torch.manual_seed(0)
    varies = 0
    for _ in range(10):
        mask, fraction = mix.mask((4, 8, 8), 0.5, 'cpu')
        assert fraction == 0.5 and mask.sum() == 128
        varies += not all(torch.equal(mask[0], mask[t]) for t in range(1, 4))
    assert varies >= 5


def test_event_mix_checks_shapes():
    with pytest.raises(ValueError, match=r'EventMix expects inputs \(B, T, C, H, W\)'):
        EventMix()(torch.zeros(2, 2, 4, 4), torch.eye(2))
    with pytest.raises(ValueError, match='alpha'):
        EventMix(alpha=0)
