"""The detection data preprocessor for event frames with a time axis:
:class:`EventDetDataPreprocessor`."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.data_preprocessors import DetDataPreprocessor
from mmdet.models.utils import samplelist_boxtype2tensor

from mmsdt.registry import MODELS

from .event_frames import check_frames, sample_source

NO_SOURCE = '<sample without event_file>'


@MODELS.register_module()
class EventDetDataPreprocessor(DetDataPreprocessor):
    """mmdet's detection preprocessor for event frames: a list of ``(T, C, H, W)`` frames ->
    a float batch ``(B, T, C, H, W)``, padded at the bottom / right to the largest ``H, W``
    of the batch and then to a multiple of ``pad_size_divisor`` (with ``pad_value``).

    Frames are counts or binary maps, so there is no mean / std and no BGR->RGB (a 3-channel
    axis is not colour). As mmdet's ``DetDataPreprocessor``, it sets ``batch_input_shape``
    and ``pad_shape`` in every data sample's metainfo and turns box types into tensors;
    padding never moves a box (it is added bottom / right).

    Args:
        num_frames (int, optional): the ``T`` the model is configured for; data with
            another ``T`` is an error naming both and the sample's event file.
        pad_size_divisor (int): pad ``H`` and ``W`` up to a multiple of it. Defaults to 1.
        pad_value (float): value of the padded pixels. Defaults to 0 (no events).
        boxtype2tensor (bool): as mmdet's. Defaults to True.
        non_blocking (bool): as mmdet's. Defaults to False.
    """

    def __init__(self,
                 num_frames: Optional[int] = None,
                 pad_size_divisor: int = 1,
                 pad_value: float = 0,
                 boxtype2tensor: bool = True,
                 non_blocking: Optional[bool] = False):
        super().__init__(pad_size_divisor=pad_size_divisor, pad_value=pad_value,
                         boxtype2tensor=boxtype2tensor, non_blocking=non_blocking)
        if num_frames is not None and not (isinstance(num_frames, int) and num_frames > 0):
            raise ValueError(f'EventDetDataPreprocessor: num_frames must be a positive int, '
                             f'got {num_frames!r}')
        self.num_frames = num_frames

    def _check(self, inputs: Sequence[torch.Tensor], samples: Sequence) -> None:
        first = None
        for i, frames in enumerate(inputs):
            sample = samples[i] if i < len(samples) else None
            shape = tuple(frames.shape)
            check_frames(shape, sample_source(sample, NO_SOURCE), self.num_frames,
                         prefix='EventDetDataPreprocessor: ')
            if first is None:
                first = (shape, sample)
            elif shape[:2] != first[0][:2]:
                raise ValueError(
                    f'EventDetDataPreprocessor: {sample_source(sample, NO_SOURCE)}: (T, C) = '
                    f'{shape[:2]} differ from the batch\'s first sample '
                    f'{sample_source(first[1], NO_SOURCE)} {first[0][:2]}')

    def pad_batch(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, List[tuple]]:
        """The padded batch ``(B, T, C, H', W')`` and every sample's own ``(H, W)``."""
        sizes = [tuple(int(s) for s in f.shape[-2:]) for f in inputs]
        div = self.pad_size_divisor
        height = int(math.ceil(max(h for h, _ in sizes) / div)) * div
        width = int(math.ceil(max(w for _, w in sizes) / div)) * div
        batch = torch.stack([
            F.pad(f, (0, width - f.shape[-1], 0, height - f.shape[-2]), value=self.pad_value)
            for f in inputs])
        return batch, sizes

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast, check, stack and pad the frames; metainfo and box types as mmdet's."""
        data = self.cast_data(data)
        inputs, samples = data['inputs'], data.get('data_samples')
        if isinstance(inputs, torch.Tensor):
            if inputs.dim() != 5:
                raise ValueError(f'EventDetDataPreprocessor: expected a batch (B, T, C, H, W) '
                                 f'or a list of (T, C, H, W) frames, got a tensor of shape '
                                 f'{tuple(inputs.shape)}')
            inputs = list(inputs)
        self._check(inputs, list(samples or []))
        batch, sizes = self.pad_batch([f.float() for f in inputs])
        if samples is not None:
            batch_input_shape = tuple(batch.shape[-2:])
            div = self.pad_size_divisor
            for sample, (h, w) in zip(samples, sizes):  # pad_shape: as mmdet's, per sample
                sample.set_metainfo(dict(
                    batch_input_shape=batch_input_shape,
                    pad_shape=(int(math.ceil(h / div)) * div, int(math.ceil(w / div)) * div)))
            if self.boxtype2tensor:
                samplelist_boxtype2tensor(samples)
        return dict(inputs=batch, data_samples=samples)
