"""A deterministic per-class subset of a folder-layout training split, as an annotation file.

Semi-supervised runs (SMA pre-training without labels, then fine-tuning with a fraction of
them) read the labelled fraction through mmpretrain's ``CustomDataset(ann_file=...)``.
"""
import os
import os.path as osp
from typing import Dict, List

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def write_label_subset(root: str, fraction: float, split: str = 'train',
                       out: str = 'meta/train_{percent}pct.txt') -> Dict[str, object]:
    """Write every ``round(1 / fraction)``-th image (sorted by name) of each class folder of
    ``root/split`` to ``root/out`` as ``<class>/<file> <label>`` lines, labels in sorted
    class-folder order (the order ``CustomDataset`` gives a folder-layout split).

    Returns:
        dict: ``path`` (the annotation file), ``classes``, ``per_class`` (images kept) and
        ``images`` (total).

    Raises:
        ValueError: ``fraction`` outside (0, 1] or a class folder keeps no image.
        FileNotFoundError: ``root/split`` holds no class folder.
    """
    if not 0. < fraction <= 1.:
        raise ValueError(f'fraction must lie in (0, 1], got {fraction}')
    step = round(1. / fraction)
    split_dir = osp.join(root, split)
    classes = sorted(d for d in os.listdir(split_dir) if osp.isdir(osp.join(split_dir, d))) \
        if osp.isdir(split_dir) else []
    if not classes:
        raise FileNotFoundError(f'no class folders in {split_dir}')
    lines: List[str] = []
    per_class = {}
    for label, name in enumerate(classes):
        files = sorted(f for f in os.listdir(osp.join(split_dir, name))
                       if f.lower().endswith(IMAGE_SUFFIXES))[::step]
        if not files:
            raise ValueError(f'{osp.join(split_dir, name)} keeps no image at fraction {fraction}')
        per_class[name] = len(files)
        lines += [f'{name}/{f} {label}' for f in files]
    path = osp.join(root, out.format(percent=round(100 * fraction)))
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(path=path, classes=classes, per_class=per_class, images=len(lines))
