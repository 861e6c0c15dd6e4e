"""The reconstruction head of spike-masked autoencoder pre-training."""
import torch
from mmpretrain.models.heads import MAEPretrainHead

from mmsdt.registry import MODELS

from .masking import patch_grid


@MODELS.register_module()
class SpikeMAEPretrainHead(MAEPretrainHead):
    """mmpretrain's ``MAEPretrainHead`` for images of any size that is a multiple of the patch.

    The stock head (per-patch normalised pixel targets with ``norm_pix=True``; the loss
    module, e.g. ``PixelReconstructionLoss(criterion='L2')``, averages the squared error over
    each patch's pixels and then over the patches whose ``mask`` is 1, i.e. the masked ones)
    is kept; only ``patchify`` / ``unpatchify`` are rewritten for H != W (the stock ones
    assert square images). Patches are enumerated row-major, (h, w, p, p, C) per patch, as the
    stock head and :class:`SpikeMAEDecoder`.
    """

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) images -> (B, h * w, p * p * C) patches."""
        p, c = self.patch_size, self.in_channels
        height, width = patch_grid(imgs.shape, p)
        if imgs.shape[1] != c:
            raise ValueError(f'images of shape {tuple(imgs.shape)} do not have the head\'s '
                             f'{c} channels')
        x = imgs.reshape(imgs.shape[0], c, height, p, width, p)
        return torch.einsum('nchpwq->nhwpqc', x).reshape(imgs.shape[0], height * width,
                                                          p * p * c)

    def unpatchify_grid(self, x: torch.Tensor, grid) -> torch.Tensor:
        """(B, h * w, p * p * C) patches of an (h, w) grid -> (B, C, h * p, w * p) images."""
        p, c = self.patch_size, self.in_channels
        height, width = grid
        x = x.reshape(x.shape[0], height, width, p, p, c)
        return torch.einsum('nhwpqc->nchpwq', x).reshape(x.shape[0], c, height * p, width * p)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """Square grids only, as the stock head; use :meth:`unpatchify_grid` otherwise."""
        side = int(round(x.shape[1]**.5))
        if side * side != x.shape[1]:
            raise ValueError(f'{x.shape[1]} patches do not form a square grid; '
                             'use unpatchify_grid(x, (h, w))')
        return self.unpatchify_grid(x, (side, side))
