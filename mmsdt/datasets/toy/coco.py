"""The toy COCO writer: an instance segmentation set of rendered shapes in COCO format."""
import json
import os
from typing import Any, Dict, Optional, Tuple

from .annotation import instance_annotation
from .fileio import (FORMAT_VERSION, ProgressFn, check_split_args, clear_generated,
                     read_marker, write_jpeg, write_json)
from .scene import SHAPE_KINDS, image_rng, render_scene

TOY_COCO_CLASSES: Tuple[str, ...] = SHAPE_KINDS
"""Instance classes of the toy COCO set; category ids are 1, 2, 3 in this order."""

_SPLITS_COCO = (('train', 'train'), ('val', 'val'))


def _coco_summary(root: str, datasets: Dict[str, dict]) -> Dict[str, Any]:
    splits = {}
    for split, data in datasets.items():
        per_class = {name: 0 for name in TOY_COCO_CLASSES}
        for ann in data['annotations']:
            per_class[TOY_COCO_CLASSES[ann['category_id'] - 1]] += 1
        splits[split] = dict(images=len(data['images']), instances=len(data['annotations']),
                             per_class=per_class)
    return dict(root=os.path.abspath(root), format='coco', splits=splits)


def generate_toy_coco(root: str, num_train: int = 200, num_val: int = 50, seed: int = 0,
                      min_size: int = 256, max_size: int = 320, force: bool = False,
                      progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Write (or reuse) the toy COCO instance segmentation set under ``root``.

    Layout: ``root/train/000000.jpg ...``, ``root/val/...`` and
    ``root/annotations/instances_{train,val}.json``; ``file_name`` is relative to the split
    folder, so mmdet's ``CocoDataset`` takes ``data_prefix=dict(img='train/')``. Classes are
    :data:`TOY_COCO_CLASSES` with category ids 1, 2, 3. Image width and height are drawn
    independently in ``[min_size, max_size]``. Annotations describe the visible (unoccluded)
    part of each shape: polygons from its external contours, a tight box and the pixel count
    as ``area``; instances with fewer than 60 visible px or under 25% of their full area
    are left out.

    If ``root/.complete_coco`` holds the same arguments nothing is written (unless
    ``force``); the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        seed (int): Non-negative seed; the same arguments give byte-identical files.
        min_size (int): Smallest image side.
        max_size (int): Largest image side.
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): Called as ``progress(split, done, total)`` after each
            image.

    Returns:
        dict: ``root``, ``format`` ('coco'), ``generated`` (False when reused) and ``splits``:
        for 'train' and 'val', ``images``, ``instances`` and ``per_class`` (instances per
        class name).

    Raises:
        ValueError: a count or the seed is negative or not an integer, or the sizes are not
            ``32 <= min_size <= max_size``.
    """
    check_split_args(num_train, num_val, seed)
    if not 32 <= min_size <= max_size:
        raise ValueError(f'need 32 <= min_size <= max_size, got {min_size}, {max_size}')
    args = dict(generator='toy_coco', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), min_size=int(min_size),
                max_size=int(max_size))
    marker = os.path.join(root, '.complete_coco')
    ann_dir = os.path.join(root, 'annotations')
    counts = dict(train=int(num_train), val=int(num_val))

    if not force and read_marker(marker) == args:
        datasets = {}
        for split, _ in _SPLITS_COCO:
            with open(os.path.join(ann_dir, f'instances_{split}.json'), encoding='utf-8') as f:
                datasets[split] = json.load(f)
        summary = _coco_summary(root, datasets)
        summary['generated'] = False
        return summary

    if os.path.exists(marker):
        os.remove(marker)
    os.makedirs(ann_dir, exist_ok=True)
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(TOY_COCO_CLASSES)]
    datasets = {}
    for split, folder in _SPLITS_COCO:
        img_dir = os.path.join(root, folder)
        os.makedirs(img_dir, exist_ok=True)
        clear_generated(img_dir, '.jpg')
        images, annotations = [], []
        for index in range(counts[split]):
            rng = image_rng(seed, 'coco', split, index)
            width, height = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
            image, shapes = render_scene(rng, height, width)
            file_name = f'{index:06d}.jpg'
            write_jpeg(os.path.join(img_dir, file_name), image)
            image_id = index + 1
            images.append(dict(id=image_id, file_name=file_name, width=width, height=height))
            for shape in shapes:
                ann = instance_annotation(shape['visible_mask'], int(shape['full_mask'].sum()))
                if ann is None:
                    continue
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=TOY_COCO_CLASSES.index(shape['kind']) + 1,
                    segmentation=ann['segmentation'], area=ann['area'], bbox=ann['bbox'],
                    iscrowd=0))
            if progress is not None:
                progress(split, index + 1, counts[split])
        data = dict(
            info=dict(description='mmsdt toy shapes (generated)', version=str(FORMAT_VERSION),
                      seed=int(seed)),
            licenses=[], images=images, annotations=annotations, categories=categories)
        write_json(os.path.join(ann_dir, f'instances_{split}.json'), data)
        datasets[split] = data

    write_json(marker, args)
    summary = _coco_summary(root, datasets)
    summary['generated'] = True
    return summary
