"""The toy classification writer: one object per image, in the ImageNet folder layout.

Six classes: three shapes painted in one colour (``circle``, ``square``, ``triangle``), a
``ring`` (a circle with a hole) and two fill textures on a shape of any kind (``striped``,
``checkered``), so that a classifier must tell outlines and textures apart. Every image is
drawn on the textured background of the detection / segmentation sets.
"""
import os
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from .fileio import (FORMAT_VERSION, ProgressFn, check_split_args, read_marker, write_jpeg,
                     write_json)
from .scene import (image_rng, make_shape, paint_shape, pick_contrasting_colour, shape_mask,
                    textured_background)

TOY_CLS_CLASSES: Tuple[str, ...] = ('checkered', 'circle', 'ring', 'square', 'striped',
                                    'triangle')
"""Class names = folder names, in sorted order (mmpretrain's ``CustomDataset`` numbers the
folders alphabetically)."""

_SHAPES = ('circle', 'square', 'triangle')
_SPLITS = ('train', 'val')


def _random_object(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """The boolean mask of one ``kind`` shape (size 40-70 % of the side, anywhere inside)."""
    diameter = size * rng.uniform(0.4, 0.7)
    angle = rng.uniform(0, 360) if kind != 'circle' else 0.0
    shape = make_shape(kind, (0.0, 0.0), diameter, angle, rng=rng)
    half = diameter / 2
    cx, cy = rng.uniform(half, size - half, 2)
    shape['center'] = (float(cx), float(cy))
    if shape['vertices'] is not None:
        shape['vertices'] = shape['vertices'] + np.array([cx, cy])
    return shape_mask(shape, size, size)


def _pattern(rng: np.random.Generator, size: int, checkered: bool) -> np.ndarray:
    """A boolean stripe (or checker) pattern with a random period of 6-10 px and angle."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(6, 10)
    a = rng.uniform(0, np.pi)
    u = (xx * np.cos(a) + yy * np.sin(a)) / period
    v = (-xx * np.sin(a) + yy * np.cos(a)) / period
    stripes = np.floor(u + rng.uniform()) % 2 == 0
    if not checkered:
        return stripes
    return stripes ^ (np.floor(v + rng.uniform()) % 2 == 0)


def render_toy_cls_image(rng: np.random.Generator, label: str, size: int = 64) -> np.ndarray:
    """Render one ``size x size`` BGR image of class ``label`` (one of
    :data:`TOY_CLS_CLASSES`)."""
    if label not in TOY_CLS_CLASSES:
        raise ValueError(f'unknown toy class {label!r}; classes: {TOY_CLS_CLASSES}')
    image = textured_background(rng, size, size)
    kind = label if label in _SHAPES else (
        'circle' if label == 'ring' else _SHAPES[int(rng.integers(len(_SHAPES)))])
    mask = _random_object(rng, kind, size)
    if label == 'ring':  # a concentric hole of 35-60 % of the diameter
        ys, xs = np.nonzero(mask)
        cy, cx, radius = ys.mean(), xs.mean(), (xs.max() - xs.min() + 1) / 2
        hole = np.zeros_like(mask, np.uint8)
        cv2.circle(hole, (int(round(cx)), int(round(cy))),
                   int(round(radius * rng.uniform(0.35, 0.6))), 1, thickness=-1)
        mask &= ~hole.astype(bool)
    paint_shape(rng, image, mask, pick_contrasting_colour(rng, image, mask))
    if label in ('striped', 'checkered'):  # the pattern's second colour stands out from it
        pattern = mask & _pattern(rng, size, checkered=label == 'checkered')
        paint_shape(rng, image, pattern, pick_contrasting_colour(rng, image, pattern))
    return image


def generate_toy_cls(root: str, num_train: int = 500, num_val: int = 40, seed: int = 0,
                     size: int = 64, force: bool = False,
                     progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Write (or reuse) the toy classification set under ``root`` in the ImageNet layout.

    Layout: ``root/{train,val}/<class>/<class>_NNNNNN.JPEG``, ``num_train`` / ``num_val``
    images per class of :data:`TOY_CLS_CLASSES` (no annotation file: mmpretrain's
    ``CustomDataset`` / ``ImageNet`` read the class from the folder). If
    ``root/.complete_cls`` holds the same arguments nothing is written (unless ``force``);
    the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Training images per class.
        num_val (int): Validation images per class.
        seed (int): Non-negative seed; the same arguments give identical files.
        size (int): Image side in pixels (at least 32).
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): ``progress(split, done, total)`` after each image.

    Returns:
        dict: ``root``, ``format`` ('imagenet'), ``generated`` (False when reused),
        ``classes`` and ``splits``: per split ``images`` and ``images_per_class``.

    Raises:
        ValueError: a count or the seed is negative or not an integer, or ``size < 32``.
        OSError: a reused set misses an image.
    """
    check_split_args(num_train, num_val, seed)
    if size < 32:
        raise ValueError(f'size must be at least 32, got {size}')
    args = dict(generator='toy_cls', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), size=int(size))
    marker = os.path.join(root, '.complete_cls')
    counts = dict(train=int(num_train), val=int(num_val))
    reuse = not force and read_marker(marker) == args
    if not reuse and os.path.exists(marker):
        os.remove(marker)

    splits = {}
    for split in _SPLITS:
        per_class = counts[split]
        total, done = per_class * len(TOY_CLS_CLASSES), 0
        for label_id, label in enumerate(TOY_CLS_CLASSES):
            folder = os.path.join(root, split, label)
            names = [f'{label}_{i:06d}.JPEG' for i in range(per_class)]
            if reuse:
                missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
                if missing:
                    raise OSError(f'missing image {os.path.join(folder, missing[0])}')
                continue
            os.makedirs(folder, exist_ok=True)
            for name in os.listdir(folder):  # strays of a larger earlier run
                if name.endswith('.JPEG') and name not in names:
                    os.remove(os.path.join(folder, name))
            for i, name in enumerate(names):
                # one stream per image, independent of the number of images per class
                rng = image_rng(seed, 'cls', split, label_id * 1_000_000 + i)
                write_jpeg(os.path.join(folder, name), render_toy_cls_image(rng, label, size))
                done += 1
                if progress is not None:
                    progress(split, done, total)
        splits[split] = dict(images=total,
                             images_per_class={c: per_class for c in TOY_CLS_CLASSES})

    if not reuse:
        write_json(marker, args)
    return dict(root=os.path.abspath(root), format='imagenet', generated=not reuse,
                classes=list(TOY_CLS_CLASSES), splits=splits)
