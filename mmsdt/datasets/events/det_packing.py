"""Packing event frames and boxes for mmdet detectors: :class:`PackEventDetInputs`."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .augment import frames_of

DET_META_KEYS = ('sample_idx', 'recording', 'event_file', 'timestamp', 'window_us',
                 'first_in_recording', 'sensor_size', 'num_frames', 'img_shape', 'ori_shape',
                 'scale_factor', 'flip', 'flip_direction')


def _boxes_and_labels(results: dict):
    """Box tensor ``(N, 4)`` xyxy, labels ``(N,)`` and ignore flags from ``gt_bboxes`` /
    ``gt_bboxes_labels`` (mmdet's ``LoadAnnotations`` names) or from ``instances``."""
    if 'gt_bboxes' in results:
        boxes = results['gt_bboxes']
        boxes = boxes.tensor if hasattr(boxes, 'tensor') else torch.as_tensor(
            np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        labels = torch.as_tensor(np.asarray(results['gt_bboxes_labels'], dtype=np.int64))
        ignore = np.asarray(results.get('gt_ignore_flags', np.zeros(len(labels), bool)), bool)
    else:
        instances = results.get('instances', [])
        boxes = torch.as_tensor(np.array([i['bbox'] for i in instances],
                                         dtype=np.float32).reshape(-1, 4))
        labels = torch.as_tensor(np.array([i['bbox_label'] for i in instances], dtype=np.int64))
        ignore = np.array([bool(i.get('ignore_flag', 0)) for i in instances], dtype=bool)
    return boxes.float(), labels, torch.as_tensor(ignore)


@TRANSFORMS.register_module()
class PackEventDetInputs(BaseTransform):
    """Pack frames ``(T, C, H, W)`` and the boxes of one sample for mmdet.

    ``inputs`` is a float32 torch tensor ``(T, C, H, W)`` from ``results['img']`` (frame 0 the
    oldest). ``data_samples`` is an mmdet ``DetDataSample`` whose ``gt_instances`` hold
    ``bboxes`` (``HorizontalBoxes``, xyxy pixels) and ``labels`` from ``gt_bboxes`` /
    ``gt_bboxes_labels`` (after mmdet's ``LoadAnnotations``) or from the data info's
    ``instances``; boxes flagged ``ignore_flag`` go to ``ignored_instances``. The metainfo
    holds the ``meta_keys`` present in the results (``recording``, ``timestamp``,
    ``first_in_recording`` for the metric and the streaming state; ``img_shape`` /
    ``ori_shape`` ``(H, W)``), with ``scale_factor`` ``(1.0, 1.0)`` when no resize set one
    and ``num_frames`` = ``T``. :class:`~mmsdt.models.EventDetDataPreprocessor` stacks a
    batch to ``(B, T, C, H, W)``.

    Args:
        meta_keys (sequence of str): results keys copied into the metainfo when present.
    """

    def __init__(self, meta_keys: Sequence[str] = DET_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample."""
        from mmdet.structures import DetDataSample
        from mmdet.structures.bbox import HorizontalBoxes
        from mmengine.structures import InstanceData

        img = frames_of(results)
        inputs = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        boxes, labels, ignore = _boxes_and_labels(results)
        sample = DetDataSample()
        sample.gt_instances = InstanceData(bboxes=HorizontalBoxes(boxes[~ignore]),
                                           labels=labels[~ignore])
        sample.ignored_instances = InstanceData(bboxes=HorizontalBoxes(boxes[ignore]),
                                                labels=labels[ignore])
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta.setdefault('scale_factor', (1.0, 1.0))
        meta['num_frames'] = inputs.shape[0]
        sample.set_metainfo(meta)
        return {'inputs': inputs, 'data_samples': sample}

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
