"""A StandardRoIHead whose mask branch trains on at most N positive RoIs per image."""
import copy
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.utils import InstanceList
from torch import Tensor

from mmsdt.registry import MODELS

# The per-positive fields of mmdet's SamplingResult (all indexed by positive RoI).
_POS_FIELDS = ('pos_inds', 'pos_priors', 'pos_is_gt', 'pos_assigned_gt_inds', 'pos_gt_labels',
               'pos_gt_bboxes')


def cap_positives(result: SamplingResult, max_pos: int) -> Tuple[SamplingResult, Tensor]:
    """A shallow copy of ``result`` keeping at most ``max_pos`` positives, drawn uniformly.

    Kept positives stay in their original order; negatives are untouched.

    Returns:
        tuple: the capped sampling result and the indices (into the original positives) that
        were kept.
    """
    num_pos = result.pos_priors.shape[0]
    device = result.pos_priors.device
    if num_pos <= max_pos:
        return result, torch.arange(num_pos, device=device)
    keep = torch.randperm(num_pos, device=device)[:max_pos].sort().values
    capped = copy.copy(result)
    for name in _POS_FIELDS:
        setattr(capped, name, getattr(result, name)[keep])
    return capped, keep


@MODELS.register_module()
class CappedMaskRoIHead(StandardRoIHead):
    """mmdet's StandardRoIHead with a cap on the positives the mask head trains on.

    The bbox head is trained on every sampled RoI as usual; the mask head on at most
    ``mask_max_pos_per_img`` of each image's positive RoIs (a uniform random subset). This
    lets a config sample more positives for the (cheap) box classifier without making the
    (costlier) mask branch — RoIAlign at 14x14 plus its convs — grow with them. Inference is
    the stock one.

    Args:
        mask_max_pos_per_img (int, optional): the cap; ``None`` (default) keeps every
            positive, i.e. exactly ``StandardRoIHead``.
        **kwargs: the arguments of mmdet's StandardRoIHead.
    """

    def __init__(self, *args, mask_max_pos_per_img: Optional[int] = None, **kwargs):
        super().__init__(*args, **kwargs)
        if mask_max_pos_per_img is not None and (int(mask_max_pos_per_img)
                                                 != mask_max_pos_per_img
                                                 or mask_max_pos_per_img < 1):
            raise ValueError('mask_max_pos_per_img must be a positive integer or None, got '
                             f'{mask_max_pos_per_img!r}')
        self.mask_max_pos_per_img = mask_max_pos_per_img

    def mask_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult],
                  bbox_feats: Tensor, batch_gt_instances: InstanceList) -> dict:
        """Mask loss on at most ``mask_max_pos_per_img`` positives per image."""
        if self.mask_max_pos_per_img is None:
            return super().mask_loss(x, sampling_results, bbox_feats, batch_gt_instances)
        capped = [cap_positives(res, self.mask_max_pos_per_img) for res in sampling_results]
        results = [res for res, _ in capped]
        if not self.share_roi_extractor:
            # the stock path pools the (capped) positives itself
            return super().mask_loss(x, results, bbox_feats, batch_gt_instances)
        # Shared extractor: bbox_feats holds each image's positives then its negatives (as
        # sampled); select the kept positives' rows.
        selected = []
        for (res, keep), orig in zip(capped, sampling_results):
            flags = torch.zeros(orig.pos_priors.shape[0] + orig.neg_priors.shape[0],
                                device=bbox_feats.device, dtype=torch.bool)
            flags[keep] = True
            selected.append(flags)
        mask_results = self._mask_forward(x, pos_inds=torch.cat(selected), bbox_feats=bbox_feats)
        loss_and_target = self.mask_head.loss_and_target(
            mask_preds=mask_results['mask_preds'],
            sampling_results=results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=self.train_cfg)
        mask_results.update(loss_mask=loss_and_target['loss_mask'])
        return mask_results
