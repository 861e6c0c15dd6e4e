"""Stop a run whose data and model disagree about the classes or the input size, before its
first step (detection, segmentation, classification)."""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmsdt.registry import HOOKS
from .class_name_check import (check_same_classes, class_folders, class_names, classes_difference,
                               dataset_location, leaf_datasets)
from .data_check_error import ClassDataError
from .head_class_check import check_head_classes
from .input_size_check import check_same_input_size

# checkpoint['meta'][CLASS_FOLDERS_KEY]: the class folder names of a folder-scanned training
# set, in label order (metainfo['classes'] may hold other names, e.g. ImageNet's)
CLASS_FOLDERS_KEY = 'dataset_class_folders'


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


def _where(leaf, split: str) -> str:
    where = f'{split} data set {type(leaf).__name__}'
    root = getattr(leaf, 'img_prefix', None) or getattr(leaf, 'data_root', None)
    return f'{where} at {root}' if root else where


def check_class_folders(dataset, split: str) -> None:
    """Raise :class:`ClassDataError` if a class folder of ``dataset`` holds no image
    (mmpretrain only logs a warning and keeps the class, so the class count silently
    includes a class that has no data)."""
    for leaf in leaf_datasets(dataset):
        empty = empty_class_folders(leaf)
        if empty:
            exts = ', '.join(getattr(leaf, 'extensions', ()) or ())
            raise ClassDataError(
                f'{_where(leaf, split)}: {len(empty)} class folder(s) hold no image ({exts}): '
                f'{", ".join(empty)}. Remove the folder(s) or add images; an empty class '
                f'would still count as a class.')


def check_label_range(dataset, num_classes: int, split: str) -> None:
    """Raise :class:`ClassDataError` if a ground-truth label of the classification data set
    ``dataset`` lies outside ``0 .. num_classes - 1`` (annotation-file data sets)."""
    for leaf in leaf_datasets(dataset):
        if hasattr(leaf, 'get_gt_labels') and len(leaf):
            labels = np.asarray(leaf.get_gt_labels())
            if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
                raise ClassDataError(f'{_where(leaf, split)}: ground-truth labels span '
                                     f'{labels.min()}..{labels.max()}, outside the head\'s 0..'
                                     f'{num_classes - 1}')


def check_class_data(dataset, num_classes: Optional[int], split: str) -> None:
    """Raise :class:`ClassDataError` if the classification data set ``dataset`` cannot train
    / evaluate a head of ``num_classes`` classes: an empty class folder
    (:func:`check_class_folders`) or, with ``num_classes``, a label outside the head
    (:func:`check_label_range`).

    The head's class count against ``metainfo['classes']`` is checked by
    :func:`~mmsdt.engine.hooks.head_class_check.check_head_classes` (every head of a
    detector, segmentor or classifier).
    """
    check_class_folders(dataset, split)
    if num_classes is not None:
        check_label_range(dataset, num_classes, split)


def is_classifier(model) -> bool:
    """Whether ``model`` is an image classifier (a ``head`` and no detection / segmentation
    head): its inputs have one fixed size."""
    return getattr(model, 'head', None) is not None and not any(
        hasattr(model, name) for name in ('decode_head', 'roi_head', 'rpn_head', 'bbox_head'))


@HOOKS.register_module()
class ClassDataCheckHook(Hook):
    """Check the data sets against the model, each other and the loaded checkpoint, before
    the first step of a training, val or test run (mmdet, mmseg and mmpretrain models).

    * **Head classes** (``check_num_classes``): every head that predicts the data set's
      classes (mmdet ``bbox_head`` / ``roi_head.bbox_head`` / ``roi_head.mask_head``, mmseg
      ``decode_head`` / ``auxiliary_head``, mmpretrain ``head`` and data preprocessor) has
      ``num_classes == len(dataset.metainfo['classes'])``; the error names the config key.
      For a classifier also: no label outside the head (:func:`check_label_range`). A
      folder-scanned data set must have no empty class folder (always checked).
    * **Class names** (``check_class_names``): the val (test) data set has the train data
      set's classes, same names in the same order, and for folder-scanned sets the same
      class folders; the error names the differing entries and both data sets.
    * **Checkpoint classes** (``check_checkpoint``): after a checkpoint is loaded, its
      ``meta.dataset_meta.classes`` (and the class folders this hook stores when saving)
      equal those of the data sets of the run. A mismatch is an error when resuming or
      evaluating, a warning when training starts from ``load_from`` (fine-tuning onto
      another label set).
    * **Input size** (``check_input_size``, classifiers only): one train and one val sample,
      each through its pipeline, give inputs of the same shape. Detection and segmentation
      inputs vary in size by design and are not compared.

    Before training it checks the train and val data sets; before a standalone val / test
    run that loop's data set. Every mmsdt runtime base adds it to ``custom_hooks``; switch
    single checks off with the arguments, or leave the hook out of ``custom_hooks`` (as
    mmdet users remove ``NumClassCheckHook``).

    Args:
        check_num_classes (bool): compare heads' ``num_classes`` with the data's classes.
        check_class_names (bool): compare the class names of train and val / test data.
        check_checkpoint (bool): compare a loaded checkpoint's class names with the data's.
        check_input_size (bool): compare train and val input shapes of a classifier.

    Raises:
        ClassDataError: from the class checks.
        InputSizeError: from the input size check.
    """
    priority = 'VERY_HIGH'

    def __init__(self, check_num_classes: bool = True, check_class_names: bool = True,
                 check_checkpoint: bool = True, check_input_size: bool = True) -> None:
        self.check_num_classes = check_num_classes
        self.check_class_names = check_class_names
        self.check_checkpoint = check_checkpoint
        self.check_input_size = check_input_size
        self._checked = set()

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    @staticmethod
    def _dataset(runner, loop_name: str):
        """The data set of a loop the runner has built (``None`` for a loop not built:
        mmengine keeps it as a config dict until it is needed)."""
        loop = getattr(runner, f'_{loop_name}_loop', None)
        loader = getattr(loop, 'dataloader', None)
        return getattr(loader, 'dataset', None)

    def _check_dataset(self, runner, dataset, split: str) -> None:
        if dataset is None or id(dataset) in self._checked:
            return
        model = self._model(runner)
        check_class_folders(dataset, split)
        if self.check_num_classes:
            classes = class_names(dataset)
            if classes is not None:
                check_head_classes(model, classes,
                                   f'{split} data set {dataset_location(dataset)}')
            num_classes = getattr(getattr(model, 'head', None), 'num_classes', None)
            if is_classifier(model) and isinstance(num_classes, int):
                check_label_range(dataset, num_classes, split)
        self._checked.add(id(dataset))

    def _check_against_train(self, runner, dataset, split: str) -> None:
        train = self._dataset(runner, 'train')
        if self.check_class_names and train is not None and dataset is not None:
            check_same_classes(train, 'train', dataset, split)

    def before_train(self, runner) -> None:
        """Check the train and val data sets (heads, class names, input size)."""
        train, val = self._dataset(runner, 'train'), self._dataset(runner, 'val')
        self._check_dataset(runner, train, 'train')
        self._check_dataset(runner, val, 'val')
        self._check_against_train(runner, val, 'val')
        if self.check_input_size and train is not None and val is not None \
                and is_classifier(self._model(runner)):
            check_same_input_size(train, val)

    def before_val(self, runner) -> None:
        """Check the val data set (done already when training)."""
        self._check_dataset(runner, self._dataset(runner, 'val'), 'val')

    def before_test(self, runner) -> None:
        """Check the test data set (and its class names against a built train data set)."""
        test = self._dataset(runner, 'test')
        self._check_dataset(runner, test, 'test')
        self._check_against_train(runner, test, 'test')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the class folders of a folder-scanned training set in the checkpoint's meta
        (``meta.dataset_meta`` holds ``metainfo['classes']`` only)."""
        train = self._dataset(runner, 'train')
        folders = class_folders(train) if train is not None else None
        if folders is not None:
            checkpoint.setdefault('meta', {})[CLASS_FOLDERS_KEY] = folders

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Compare the classes stored in a loaded checkpoint with the run's data sets."""
        if not self.check_checkpoint or not isinstance(checkpoint, dict):
            return
        meta = checkpoint.get('meta') or {}
        stored = [('classes', (meta.get('dataset_meta') or {}).get('classes'), class_names),
                  ('class folders', meta.get(CLASS_FOLDERS_KEY), class_folders)]
        fine_tuning = self._dataset(runner, 'train') is not None and \
            not getattr(runner, '_resume', False)
        for split in ('train', 'val', 'test'):
            dataset = self._dataset(runner, split)
            if dataset is None:
                continue
            for what, ref, read in stored:
                got = read(dataset) if ref is not None else None
                if got is None:
                    continue
                diff = classes_difference([str(c) for c in ref], 'the checkpoint', got, split)
                if not diff:
                    continue
                message = (f'the loaded checkpoint was trained on other {what} than the '
                           f'{split} data set {dataset_location(dataset)}: {diff}')
                if fine_tuning:
                    runner.logger.warning(f'{message} (training from load_from: fine-tuning '
                                          f'onto these classes)')
                    continue
                raise ClassDataError(
                    f'{message}. Its predictions would be scored against shifted labels; '
                    f'evaluate it on data with the classes it was trained on (or switch this '
                    f'check off: ClassDataCheckHook(check_checkpoint=False)).')
