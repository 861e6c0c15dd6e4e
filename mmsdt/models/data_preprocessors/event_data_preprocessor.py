"""The data preprocessor for event frames with a time axis: :class:`EventDataPreprocessor`."""
from typing import List, Optional, Sequence, Union

import torch
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.models.utils.batch_augments import CutMix

from mmsdt.registry import MODELS

from ..batch_augments import EventMix  # noqa: F401  (registers mmsdt.EventMix)
from .event_frames import check_frames, sample_source


@MODELS.register_module()
class EventDataPreprocessor(ClsDataPreprocessor):
    """Stack event frames ``(T, C, H, W)`` to ``(B, T, C, H, W)`` float, with no mean/std,
    no BGR->RGB and no padding, plus mmpretrain's label handling and batch augmentations.

    Frames are counts or binary maps, so their values go to the model unchanged (mmpretrain's
    ``ClsDataPreprocessor`` would treat a 3-channel axis as BGR and pad ``(C, H, W)`` images).
    Labels, ``to_onehot`` and ``batch_augments`` are ``ClsDataPreprocessor``'s: the batch
    augmentations run in training only, e.g.
    ``batch_augments=dict(augments=dict(type='mmsdt.EventMix', alpha=1.0))``; mmpretrain's
    ``Mixup`` works on any shape, while ``CutMix`` / ``ResizeMix`` cut ``(N, C, H, W)`` boxes and
    are refused (on 5-D input they would cut the wrong axes).

    Every sample must have the same shape; with ``num_frames`` set, a ``T`` in the data that
    differs from it (the model's ``T``) is an error naming both and the recording.

    Args:
        num_frames (int, optional): the ``T`` the model is configured for.
        to_onehot (bool): one-hot ``gt_score`` from ``gt_label`` (on with batch augments).
        num_classes (int, optional): classes for the one-hot labels.
        batch_augments (dict, optional): ``augments`` and ``probs`` of mmpretrain's
            ``RandomBatchAugment``.
    """

    def __init__(self,
                 num_frames: Optional[int] = None,
                 to_onehot: bool = False,
                 num_classes: Optional[int] = None,
                 batch_augments: Optional[dict] = None):
        super().__init__(to_onehot=to_onehot, num_classes=num_classes,
                         batch_augments=batch_augments)
        if num_frames is not None and not (isinstance(num_frames, int) and num_frames > 0):
            raise ValueError(f'EventDataPreprocessor: num_frames must be a positive int, got '
                             f'{num_frames!r}')
        self.num_frames = num_frames
        for augment in getattr(self.batch_augments, 'augments', ()):
            if isinstance(augment, CutMix):
                raise ValueError(f'EventDataPreprocessor: {type(augment).__name__} cuts '
                                 f'(N, C, H, W) boxes and would mix the wrong axes of '
                                 f'(B, T, C, H, W) frames; use mmsdt.EventMix or Mixup')

    def stack(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
              samples: Optional[Sequence] = None) -> torch.Tensor:
        """The batch ``(B, T, C, H, W)`` from a list of ``(T, C, H, W)`` frames (or an already
        stacked batch), checked for equal shapes and ``num_frames``."""
        samples = list(samples) if samples is not None else []
        if isinstance(inputs, torch.Tensor):
            if inputs.ndim != 5:
                raise ValueError(f'EventDataPreprocessor: expected a batch (B, T, C, H, W), '
                                 f'got {tuple(inputs.shape)}')
            shapes, batch = [tuple(inputs.shape[1:])] * len(inputs), inputs
        else:
            shapes = [tuple(frames.shape) for frames in inputs]
            batch = None
        for i, shape in enumerate(shapes):
            sample = samples[i] if i < len(samples) else None
            check_frames(shape, sample_source(sample), self.num_frames)
            if shape != shapes[0]:
                raise ValueError(
                    f'{sample_source(sample)}: frames {shape} (T, C, H, W) differ from the '
                    f'batch\'s first sample {sample_source(samples[0] if samples else None)} '
                    f'{shapes[0]}')
        return batch if batch is not None else torch.stack(list(inputs))

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack, check, cast to float; labels and (in training) batch augmentations."""
        data = dict(data)
        data['inputs'] = self.stack(data['inputs'], data.get('data_samples'))
        return super().forward(data, training)
