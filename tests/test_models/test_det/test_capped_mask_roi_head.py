"""CappedMaskRoIHead: the mask branch trains on at most N positives per image."""
import numpy as np
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmdet.utils import register_all_modules
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

import mmsdt.models  # noqa: F401
from mmsdt.models.roi_heads.capped_mask_roi_head import cap_positives

register_all_modules(init_default_scope=False)
# every test builds with mmdet as the default scope, whatever an earlier test left
pytestmark = pytest.mark.usefixtures('mmdet_scope')
IMG = 64
GT_BOXES = torch.tensor([[8., 8., 30., 30.], [34., 20., 60., 50.]])


def _head_cfg(head_type='mmsdt.CappedMaskRoIHead', share=False, **kw):
    extractor = dict(type='SingleRoIExtractor', out_channels=8, featmap_strides=[4],
                     roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0))
    mask_extractor = None if share else dict(extractor, roi_layer=dict(
        type='RoIAlign', output_size=14, sampling_ratio=0))
    train_cfg = dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                      min_pos_iou=0.5, match_low_quality=True, ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5, neg_pos_ub=-1,
                     add_gt_as_proposals=True),
        mask_size=14 if share else 28, pos_weight=-1, debug=False)
    return ConfigDict(
        type=head_type, bbox_roi_extractor=extractor, mask_roi_extractor=mask_extractor,
        bbox_head=dict(type='mmsdt.SpikeShared2FCBBoxHead', in_channels=8, fc_out_channels=16,
                       roi_feat_size=7, num_classes=2),
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead', num_convs=1, in_channels=8,
                       conv_out_channels=8, num_classes=2),
        train_cfg=train_cfg, **kw)


def _batch(num_images=2, jitter_per_gt=12):
    """Features, proposals (many jittered copies of each gt box, some random boxes) and
    samples with box + mask ground truth."""
    gen = torch.Generator().manual_seed(0)
    feats = (torch.randn(num_images, 8, IMG // 4, IMG // 4, generator=gen), )
    proposals, samples = [], []
    for _ in range(num_images):
        jittered = GT_BOXES.repeat_interleave(jitter_per_gt, 0)
        jittered = jittered + torch.randn(jittered.shape, generator=gen)
        random_xy = torch.rand(10, 2, generator=gen) * 40
        random_boxes = torch.cat([random_xy, random_xy + 12], 1)
        proposals.append(InstanceData(bboxes=torch.cat([jittered, random_boxes]),
                                      scores=torch.rand(len(jittered) + 10, generator=gen)))
        masks = np.zeros((2, IMG, IMG), np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(GT_BOXES.int().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        sample = DetDataSample(metainfo=dict(img_shape=(IMG, IMG), pad_shape=(IMG, IMG)))
        sample.gt_instances = InstanceData(bboxes=GT_BOXES.clone(), labels=torch.tensor([0, 1]),
                                           masks=BitmapMasks(masks, IMG, IMG))
        samples.append(sample)
    return feats, proposals, samples


def _mask_rois_seen(head, **batch_kw):
    """Run ``head.loss`` and return (losses, RoIs the mask head saw, RoIs the bbox head saw)."""
    seen = {}
    mask_forward, bbox_forward = head.mask_head.forward, head.bbox_head.forward

    def count_mask(x):
        seen['mask'] = x.shape[0]
        return mask_forward(x)

    def count_bbox(x):
        seen['bbox'] = x.shape[0]
        return bbox_forward(x)

    head.mask_head.forward, head.bbox_head.forward = count_mask, count_bbox
    feats, proposals, samples = _batch(**batch_kw)
    losses = head.loss(feats, proposals, samples)
    return losses, seen['mask'], seen['bbox']


@pytest.mark.parametrize('share', [False, True])
def test_mask_head_sees_at_most_the_cap_per_image(share):
    torch.manual_seed(0)
    head = MODELS.build(_head_cfg(mask_max_pos_per_img=5, share=share))
    losses, mask_rois, bbox_rois = _mask_rois_seen(head)
    # 2 gts x 12 jittered copies + 2 gt boxes per image are positives: far more than 5.
    assert mask_rois == 2 * 5
    # the bbox head still trains on every sampled RoI: all 24 + 10 proposals + 2 gt boxes
    assert bbox_rois == 2 * (2 * 12 + 10 + 2)
    assert torch.isfinite(losses['loss_mask']) and losses['loss_mask'] > 0
    losses['loss_mask'].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in head.mask_head.parameters())


def test_without_cap_it_is_the_standard_roi_head():
    torch.manual_seed(0)
    capped = MODELS.build(_head_cfg())  # mask_max_pos_per_img=None
    stock = MODELS.build(_head_cfg(head_type='StandardRoIHead'))
    stock.load_state_dict(capped.state_dict())
    torch.manual_seed(1)
    losses_capped, mask_capped, _ = _mask_rois_seen(capped)
    torch.manual_seed(1)
    losses_stock, mask_stock, _ = _mask_rois_seen(stock)
    assert mask_capped == mask_stock > 2 * 5
    for key in ('loss_cls', 'loss_bbox', 'loss_mask'):
        assert torch.equal(losses_capped[key], losses_stock[key]), key


def test_a_cap_above_the_positives_changes_nothing():
    torch.manual_seed(0)
    head = MODELS.build(_head_cfg(mask_max_pos_per_img=1000))
    _, mask_rois, _ = _mask_rois_seen(head, jitter_per_gt=2)
    assert mask_rois == 2 * (2 * 2 + 2)  # jittered copies + the gt boxes themselves


def test_cap_positives_keeps_the_fields_aligned():
    torch.manual_seed(0)
    head = MODELS.build(_head_cfg())
    feats, proposals, samples = _batch(num_images=1)
    proposals[0].priors = proposals[0].pop('bboxes')  # as StandardRoIHead.loss does
    assign = head.bbox_assigner.assign(proposals[0], samples[0].gt_instances)
    result = head.bbox_sampler.sample(assign, proposals[0], samples[0].gt_instances)
    capped, keep = cap_positives(result, 4)
    assert len(keep) == 4 and torch.all(keep[1:] > keep[:-1])
    for name in ('pos_inds', 'pos_priors', 'pos_is_gt', 'pos_assigned_gt_inds',
                 'pos_gt_labels', 'pos_gt_bboxes'):
        assert torch.equal(getattr(capped, name), getattr(result, name)[keep]), name
    assert torch.equal(capped.neg_priors, result.neg_priors)
    # each kept positive still points at the gt box it was assigned to
    assert torch.equal(capped.pos_gt_bboxes, GT_BOXES[capped.pos_assigned_gt_inds])
    assert result.pos_priors.shape[0] > 4  # the original is untouched


@pytest.mark.parametrize('bad', [0, -3, 2.5])
def test_bad_cap_is_rejected(bad):
    with pytest.raises(ValueError, match='mask_max_pos_per_img'):
        MODELS.build(_head_cfg(mask_max_pos_per_img=bad))
