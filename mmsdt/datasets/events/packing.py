"""Packing event frames for mmpretrain models: :class:`PackEventInputs`."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmsdt.registry import TRANSFORMS

from .augment import frames_of

META_KEYS = ('sample_idx', 'events_path', 'frame_dir', 'num_frames', 'sensor_size',
             'img_shape', 'ori_shape', 'flip', 'flip_direction')


@TRANSFORMS.register_module()
class PackEventInputs(BaseTransform):
    """Pack frames ``(T, C, H, W)`` and the label for mmpretrain.

    ``inputs`` is a float32 torch tensor ``(T, C, H, W)`` from ``results['img']``;
    ``data_samples`` is an mmpretrain ``DataSample`` with ``gt_label`` (when the results have
    one) and the ``meta_keys`` present in the results as metainfo (``num_frames`` always: the
    ``T`` of the tensor). :class:`~mmsdt.models.EventDataPreprocessor` stacks a batch to
    ``(B, T, C, H, W)``.

    Args:
        meta_keys (sequence of str): results keys copied into the metainfo when present.
    """

    def __init__(self, meta_keys: Sequence[str] = META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample."""
        from mmpretrain.structures import DataSample  # mmpretrain: the `cls` extra

        img = frames_of(results)
        inputs = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
        sample = DataSample()
        if results.get('gt_label') is not None:
            sample.set_gt_label(results['gt_label'])
        meta = {k: results[k] for k in self.meta_keys if k in results}
        meta['num_frames'] = inputs.shape[0]
        sample.set_metainfo(meta)
        return {'inputs': inputs, 'data_samples': sample}

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
