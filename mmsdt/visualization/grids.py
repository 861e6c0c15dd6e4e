"""A grid of images with a two-line caption each (e.g. predicted and true class), as PNG."""
from typing import Sequence

import numpy as np

from .charts import new_figure, save_figure


def draw_image_grid(path: str, images: Sequence[np.ndarray], captions: Sequence[str],
                    correct: Sequence[bool], title: str, columns: int = 8) -> str:
    """Draw ``images`` (RGB uint8 arrays) in rows of up to ``columns``, each with its
    caption in green (``correct``) or red; written as PNG to ``path``, which is returned."""
    if not len(images) == len(captions) == len(correct):
        raise ValueError(f'draw_image_grid: {len(images)} images, {len(captions)} captions and '
                         f'{len(correct)} flags; one of each per image')
    if not images:
        raise ValueError('draw_image_grid: no images to draw')
    cols = min(columns, len(images))
    rows = -(-len(images) // cols)
    fig = new_figure(1.6 * cols, 1.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for ax, image, caption, right in zip(axes.flat, images, captions, correct):
        ax.imshow(image)
        ax.set_title(caption, fontsize=7, color='green' if right else 'red')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
