"""Pictures of masked-autoencoder reconstructions: masked input | reconstruction | original."""
from typing import Sequence

import numpy as np

from .charts import new_figure, save_figure

COLUMN_TITLES = ('masked input', 'reconstruction', 'original')


def to_uint8_images(images, mean: Sequence[float], std: Sequence[float]) -> list:
    """Normalised (B, C, H, W) images (a tensor or array, as a data preprocessor gives them)
    -> a list of (H, W, C) uint8 arrays: ``x * std + mean`` per channel, clipped to 0..255."""
    array = np.asarray(images.detach().cpu() if hasattr(images, 'detach') else images,
                       dtype=np.float64)
    if array.ndim != 4 or array.shape[1] != len(mean) or len(mean) != len(std):
        raise ValueError(f'expected (B, {len(mean)}, H, W) images with one mean and std per '
                         f'channel, got shape {array.shape}, {len(mean)} means, {len(std)} stds')
    array = array * np.asarray(std)[None, :, None, None] + np.asarray(mean)[None, :, None, None]
    array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return [image.transpose(1, 2, 0) for image in array]


def draw_reconstruction_grid(path: str, masked: Sequence[np.ndarray],
                             reconstruction: Sequence[np.ndarray],
                             original: Sequence[np.ndarray], title: str,
                             samples_per_row: int = 4) -> str:
    """One triple (masked input | reconstruction | original) of RGB uint8 images per sample,
    ``samples_per_row`` triples side by side; written as PNG to ``path``, which is returned."""
    if not len(masked) == len(reconstruction) == len(original):
        raise ValueError(f'draw_reconstruction_grid: {len(masked)} masked inputs, '
                         f'{len(reconstruction)} reconstructions and {len(original)} originals; '
                         'one of each per sample')
    if not masked:
        raise ValueError('draw_reconstruction_grid: no samples to draw')
    per_row = min(samples_per_row, len(masked))
    rows = -(-len(masked) // per_row)
    fig = new_figure(1.3 * 3 * per_row, 1.45 * rows + 0.4)
    axes = fig.subplots(rows, 3 * per_row, squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for i, triple in enumerate(zip(masked, reconstruction, original)):
        row, col = divmod(i, per_row)
        for j, (image, name) in enumerate(zip(triple, COLUMN_TITLES)):
            ax = axes[row, 3 * col + j]
            ax.imshow(image)
            if row == 0:
                ax.set_title(name, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
