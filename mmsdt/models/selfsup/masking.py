"""Random patch masking of spike-masked autoencoder (SMA) pre-training.

A mask is a bool tensor ``active`` of shape (B, h, w) on the grid of ``patch_size`` pixel
patches, True where a patch stays visible. Every sample draws its own random set of visible
patches (``int(h * w * (1 - mask_ratio))`` of them, as upstream), from an optional
``torch.Generator`` so a seed gives the same masks.
"""
from typing import Optional, Tuple

import torch


def patch_grid(shape: Tuple[int, ...], patch_size: int = 16) -> Tuple[int, int]:
    """The patch grid (h, w) of an image batch of ``shape`` (B, C, H, W).

    Raises:
        ValueError: ``shape`` is not 4-D or H / W are not multiples of ``patch_size``.
    """
    if len(shape) != 4:
        raise ValueError(f'expected images of shape (B, C, H, W), got {tuple(shape)}')
    height, width = shape[-2:]
    if height % patch_size or width % patch_size or height == 0 or width == 0:
        raise ValueError(f'image size {height}x{width} (input shape {tuple(shape)}) is not a '
                         f'positive multiple of the {patch_size}-pixel patch size')
    return height // patch_size, width // patch_size


def num_visible(num_patches: int, mask_ratio: float) -> int:
    """Visible patches per sample: ``int(num_patches * (1 - mask_ratio))``.

    Raises:
        ValueError: the ratio is outside (0, 1) or leaves no visible or no masked patch.
    """
    if not 0. < mask_ratio < 1.:
        raise ValueError(f'mask_ratio must lie in (0, 1), got {mask_ratio}')
    keep = int(num_patches * (1. - mask_ratio))
    if keep < 1 or keep >= num_patches:
        raise ValueError(f'mask_ratio {mask_ratio} on {num_patches} patches keeps {keep} '
                         'visible; at least one visible and one masked patch are needed')
    return keep


def random_active_mask(batch: int, grid: Tuple[int, int], mask_ratio: float = 0.5,
                       generator: Optional[torch.Generator] = None,
                       device: Optional[torch.device] = None) -> torch.Tensor:
    """A per-sample random mask (B, h, w), True = visible, with exactly
    :func:`num_visible` visible patches in every sample.

    The noise is drawn on the CPU from ``generator`` (if given), so a seeded generator gives
    the same masks on every device.
    """
    height, width = grid
    keep = num_visible(height * width, mask_ratio)
    noise = torch.rand(batch, height * width, generator=generator)
    order = noise.argsort(dim=1)
    active = torch.zeros(batch, height * width, dtype=torch.bool)
    active.scatter_(1, order[:, :keep], True)
    return active.view(batch, height, width).to(device)


def upsample_mask(active: torch.Tensor, patch_size: int) -> torch.Tensor:
    """The patch mask (B, h, w) as a pixel mask (B, 1, h * p, w * p)."""
    return active.repeat_interleave(patch_size, 1).repeat_interleave(patch_size, 2)[:, None]


def mask_images(images: torch.Tensor, active: torch.Tensor, patch_size: int = 16) -> torch.Tensor:
    """``images`` (B, C, H, W) with the pixels of masked patches set to zero.

    Raises:
        ValueError: ``active`` does not match the batch and the patch grid of ``images``.
    """
    grid = patch_grid(images.shape, patch_size)
    if active.shape != (images.shape[0], *grid):
        raise ValueError(f'active mask of shape {tuple(active.shape)} does not fit images of '
                         f'shape {tuple(images.shape)}: expected {(images.shape[0], *grid)}')
    return images * upsample_mask(active, patch_size).to(images.dtype)
