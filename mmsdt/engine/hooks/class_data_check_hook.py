"""Stop a classification run whose data and classifier head disagree, before it starts."""
import os.path as osp
from typing import Iterable, List, Optional

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmsdt.registry import HOOKS


class ClassDataError(ValueError):
    """A classification data set is unusable with the model (empty class, class count)."""


def _leaf_datasets(dataset) -> Iterable:
    """The data sets inside wrappers (``RepeatDataset``, ``ClassBalancedDataset``,
    ``ConcatDataset``)."""
    if hasattr(dataset, 'datasets'):
        for inner in dataset.datasets:
            yield from _leaf_datasets(inner)
    elif hasattr(dataset, 'dataset'):
        yield from _leaf_datasets(dataset.dataset)
    else:
        yield dataset


def empty_class_folders(dataset) -> List[str]:
    """The class folders of a folder-scanned data set (mmpretrain ``CustomDataset`` /
    ``ImageNet`` without an annotation file) that hold no readable image."""
    folder_to_idx = getattr(dataset, 'folder_to_idx', None)
    if not folder_to_idx:
        return []
    counts = np.bincount(np.asarray(dataset.get_gt_labels(), np.int64),
                         minlength=len(folder_to_idx))
    prefix = getattr(dataset, 'img_prefix', '')
    return [osp.join(prefix, folder) for folder, idx in sorted(folder_to_idx.items(),
                                                               key=lambda kv: kv[1])
            if counts[idx] == 0]


def check_class_data(dataset, num_classes: Optional[int], split: str) -> None:
    """Raise :class:`ClassDataError` if ``dataset`` cannot train / evaluate a head of
    ``num_classes`` classes.

    * a class folder without any image (mmpretrain only logs a warning and keeps the class,
      so the class count silently includes a class that has no data);
    * a data set whose ``metainfo['classes']`` has another length than ``num_classes``;
    * a ground-truth label outside ``0 .. num_classes - 1`` (annotation-file data sets).
    """
    for leaf in _leaf_datasets(dataset):
        where = f'{split} data set {type(leaf).__name__}'
        root = getattr(leaf, 'img_prefix', None) or getattr(leaf, 'data_root', None)
        if root:
            where += f' at {root}'
        empty = empty_class_folders(leaf)
        if empty:
            exts = ', '.join(getattr(leaf, 'extensions', ()) or ())
            raise ClassDataError(
                f'{where}: {len(empty)} class folder(s) hold no image ({exts}): '
                f'{", ".join(empty)}. Remove the folder(s) or add images; an empty class '
                f'would still count as a class.')
        if num_classes is None:
            continue
        classes = (leaf.metainfo or {}).get('classes')
        if classes is not None and len(classes) != num_classes:
            raise ClassDataError(
                f'{where} has {len(classes)} classes but the model head has num_classes='
                f'{num_classes}; set model.head.num_classes (and '
                f'data_preprocessor.num_classes) to {len(classes)}.')
        if hasattr(leaf, 'get_gt_labels') and len(leaf):
            labels = np.asarray(leaf.get_gt_labels())
            if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                raise ClassDataError(f'{where}: ground-truth labels span {labels.min()}..'
                                     f'{labels.max()}, outside the head\'s 0..'
                                     f'{num_classes - 1}')


@HOOKS.register_module()
class ClassDataCheckHook(Hook):
    """Check classification data against the classifier head before training or testing.

    Before training it checks the train and val data sets, before a standalone val / test
    run that loop's data set (see :func:`check_class_data`): an empty class folder, a head
    whose ``num_classes`` is not the number of classes found, or labels outside the head,
    raise :class:`ClassDataError` naming the folder or data set, before the first step.
    Add it with ``custom_hooks = [dict(type='mmsdt.ClassDataCheckHook')]`` (the mmsdt
    classification runtime does).
    """
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._checked = set()

    @staticmethod
    def _num_classes(runner) -> Optional[int]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head = getattr(model, 'head', None)
        return getattr(head, 'num_classes', None)

    def _check(self, runner, loop_name: str, split: str) -> None:
        loop = getattr(runner, f'_{loop_name}_loop', None)
        loader = getattr(loop, 'dataloader', None)  # a loop not built is a dict or None
        if loader is None or id(loader.dataset) in self._checked:
            return
        check_class_data(loader.dataset, self._num_classes(runner), split)
        self._checked.add(id(loader.dataset))

    def before_train(self, runner) -> None:
        self._check(runner, 'train', 'train')
        self._check(runner, 'val', 'val')

    def before_val(self, runner) -> None:
        self._check(runner, 'val', 'val')

    def before_test(self, runner) -> None:
        self._check(runner, 'test', 'test')
