"""The toy ADE writer: a semantic segmentation set of rendered shapes in the ADE20K layout."""
import os
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from .annotation import semantic_label_map
from .fileio import (FORMAT_VERSION, ProgressFn, check_split_args, clear_generated,
                     read_marker, write_jpeg, write_json, write_png)
from .scene import SHAPE_KINDS, image_rng, render_scene

TOY_ADE_CLASSES: Tuple[str, ...] = ('background', ) + SHAPE_KINDS
"""Classes of the toy ADE set after ``reduce_zero_label`` (label values 1..4 on disk)."""

_SPLITS_ADE = (('train', 'training'), ('val', 'validation'))


def _ade_split_stats(labels: List[np.ndarray]) -> Dict[str, Any]:
    """Pixel and image counts per label value (0 = 'unlabelled', then TOY_ADE_CLASSES)."""
    names = ('unlabelled', ) + TOY_ADE_CLASSES
    pixels = np.zeros(len(names), np.int64)
    images = np.zeros(len(names), np.int64)
    for label in labels:
        hist = np.bincount(label.reshape(-1), minlength=len(names))[:len(names)]
        pixels += hist
        images += hist > 0
    return dict(images=len(labels),
                pixels_per_class={n: int(v) for n, v in zip(names, pixels)},
                images_per_class={n: int(v) for n, v in zip(names, images)})


def generate_toy_ade(root: str, num_train: int = 200, num_val: int = 50, seed: int = 0,
                     size: int = 256, force: bool = False,
                     progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Write (or reuse) the toy ADE20K-layout semantic segmentation set under ``root``.

    Layout: ``root/images/{training,validation}/000000.jpg ...`` and
    ``root/annotations/{training,validation}/000000.png`` (8-bit single-channel label
    maps, ``size x size``). Label values follow ADE with ``reduce_zero_label``: 0 is
    unlabelled (a 2-3 px ring around every shape), 1 'background', 2 'circle', 3 'square',
    4 'triangle'; after mmseg's ``reduce_zero_label`` these become 255 (ignored) and 0..3,
    i.e. :data:`TOY_ADE_CLASSES`. Later shapes overwrite earlier ones.

    If ``root/.complete_ade`` holds the same arguments nothing is written (unless ``force``);
    the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        seed (int): Non-negative seed; the same arguments give identical files.
        size (int): Image side in pixels.
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): Called as ``progress(split, done, total)`` after each
            image.

    Returns:
        dict: ``root``, ``format`` ('ade'), ``generated`` (False when reused) and ``splits``:
        for 'train' and 'val', ``images``, ``pixels_per_class`` and ``images_per_class``
        (keys 'unlabelled' and the names in :data:`TOY_ADE_CLASSES`).

    Raises:
        ValueError: a count or the seed is negative or not an integer, or ``size < 32``.
        OSError: a reused set misses a label map.
    """
    check_split_args(num_train, num_val, seed)
    if size < 32:
        raise ValueError(f'size must be at least 32, got {size}')
    args = dict(generator='toy_ade', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), size=int(size))
    marker = os.path.join(root, '.complete_ade')
    counts = dict(train=int(num_train), val=int(num_val))
    reuse = not force and read_marker(marker) == args
    if not reuse and os.path.exists(marker):
        os.remove(marker)

    splits = {}
    for split, folder in _SPLITS_ADE:
        img_dir = os.path.join(root, 'images', folder)
        ann_dir = os.path.join(root, 'annotations', folder)
        labels = []
        if reuse:
            for index in range(counts[split]):
                path = os.path.join(ann_dir, f'{index:06d}.png')
                label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if label is None:
                    raise OSError(f'missing label map {path}')
                labels.append(label)
            splits[split] = _ade_split_stats(labels)
            continue
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        clear_generated(img_dir, '.jpg')
        clear_generated(ann_dir, '.png')
        for index in range(counts[split]):
            rng = image_rng(seed, 'ade', split, index)
            image, shapes = render_scene(rng, size, size)
            label = semantic_label_map(shapes, size, size)
            write_jpeg(os.path.join(img_dir, f'{index:06d}.jpg'), image)
            write_png(os.path.join(ann_dir, f'{index:06d}.png'), label)
            labels.append(label)
            if progress is not None:
                progress(split, index + 1, counts[split])
        splits[split] = _ade_split_stats(labels)

    if not reuse:
        write_json(marker, args)
    return dict(root=os.path.abspath(root), format='ade', generated=not reuse, splits=splits)
