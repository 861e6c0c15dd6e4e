"""EventMix: mix event frames of two samples through a random spatio-temporal mask."""
from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import Registry
from mmpretrain.registry import BATCH_AUGMENTS as MMPRETRAIN_BATCH_AUGMENTS

BATCH_AUGMENTS = Registry('batch augment', parent=MMPRETRAIN_BATCH_AUGMENTS, scope='mmsdt',
                          locations=['mmsdt.models.batch_augments'])


@BATCH_AUGMENTS.register_module()
class EventMix:
    """Mix each sample of a batch ``(B, T, C, H, W)`` with a shuffled partner through one
    random spatio-temporal mask, and the one-hot labels by the mask's fraction.

    Per call (one batch): ``lam ~ Beta(alpha, alpha)``; a Gaussian noise field of
    ``grid = (t, h, w)`` cells (clipped to ``(T, H, W)``) is upsampled trilinearly to
    ``(T, H, W)``, and its ``k = round(lam * T * H * W)`` largest values form the mask ``M``
    (smooth blobs in space and time rather than a box). With a random permutation ``j`` of
    the batch, ``x_i <- (1 - M) * x_i + M * x_j`` over all channels, and
    ``y_i <- (1 - f) * y_i + f * y_j`` with ``f = k / (T * H * W)`` the exact mask fraction.
    The mask is drawn anew for every batch; the batch is not changed in place.

    Used through the ``batch_augments`` of :class:`~mmsdt.models.EventDataPreprocessor`
    (``dict(augments=dict(type='mmsdt.EventMix', alpha=1.0))``), which applies it in training
    only.

    Args:
        alpha (float): Beta distribution parameter (> 0).
        grid (tuple): noise cells along ``(T, H, W)``; fewer cells give larger blobs.
    """

    def __init__(self, alpha: float = 1.0, grid: Sequence[int] = (2, 4, 4)):
        if not alpha > 0:
            raise ValueError(f'EventMix: alpha must be > 0, got {alpha!r}')
        grid = tuple(int(g) for g in grid)
        if len(grid) != 3 or min(grid) < 1:
            raise ValueError(f'EventMix: grid must be three positive ints (T, H, W), got '
                             f'{grid!r}')
        self.alpha = float(alpha)
        self.grid = grid

    def mask(self, shape: Tuple[int, int, int], lam: float, device) -> Tuple[torch.Tensor,
                                                                             float]:
        """A binary float mask of ``shape`` = ``(T, H, W)`` with ``round(lam * size)`` ones,
        and its exact fraction."""
        size = int(np.prod(shape))
        count = int(round(lam * size))
        cells = tuple(min(g, s) for g, s in zip(self.grid, shape))
        noise = torch.randn((1, 1) + cells, device=device)
        field = F.interpolate(noise, size=shape, mode='trilinear', align_corners=False)
        mask = torch.zeros(size, device=device)
        if count:
            mask[field.flatten().topk(count).indices] = 1.
        return mask.view(shape), count / size

    def __call__(self, batch_inputs: torch.Tensor,
                 batch_score: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mix ``batch_inputs`` ``(B, T, C, H, W)`` and one-hot ``batch_score``
        ``(B, num_classes)``."""
        if batch_inputs.ndim != 5:
            raise ValueError(f'EventMix expects inputs (B, T, C, H, W), got '
                             f'{tuple(batch_inputs.shape)}')
        if batch_score.ndim != 2 or batch_score.shape[0] != batch_inputs.shape[0]:
            raise ValueError(f'EventMix expects one-hot scores (B, num_classes) for B = '
                             f'{batch_inputs.shape[0]}, got {tuple(batch_score.shape)}')
        batch_score = batch_score.float()
        frames, _, height, width = batch_inputs.shape[1:]
        lam = float(np.random.beta(self.alpha, self.alpha))
        mask, fraction = self.mask((frames, height, width), lam, batch_inputs.device)
        index = torch.randperm(batch_inputs.shape[0], device=batch_inputs.device)
        mask = mask[:, None].to(batch_inputs.dtype)  # (T, 1, H, W): every channel alike
        mixed = batch_inputs * (1 - mask) + batch_inputs[index] * mask
        return mixed, (1 - fraction) * batch_score + fraction * batch_score[index]

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(alpha={self.alpha}, grid={self.grid})'
