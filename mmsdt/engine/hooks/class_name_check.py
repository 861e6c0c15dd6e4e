"""Class names of a data set, and their comparison with another split or a checkpoint.

A label is an index into the class list, so two splits (or a data set and the checkpoint that
was trained on another) whose class lists differ in any name or in order give shifted labels
without any error: a renamed val folder (``ring`` -> ``zring``) moves to the end of the sorted
folder list and every class after it is evaluated against its neighbour's label.
"""
import os.path as osp
from typing import Iterable, List, Optional, Sequence

from .data_check_error import ClassDataError


def leaf_datasets(dataset) -> Iterable:
    """The data sets inside wrappers (``RepeatDataset``, ``ClassBalancedDataset``,
    ``ConcatDataset``, ``MultiImageMixDataset``)."""
    if hasattr(dataset, 'datasets'):
        for inner in dataset.datasets:
            yield from leaf_datasets(inner)
    elif hasattr(dataset, 'dataset'):
        yield from leaf_datasets(dataset.dataset)
    else:
        yield dataset


def dataset_location(dataset) -> str:
    """``TypeName (annotation file or image folder)`` of the first data set inside
    ``dataset``, for error messages."""
    leaf = next(iter(leaf_datasets(dataset)))
    prefix = getattr(leaf, 'data_prefix', None) or {}
    where = (getattr(leaf, 'ann_file', None) or getattr(leaf, 'img_prefix', None)
             or prefix.get('img_path') or prefix.get('img') or getattr(leaf, 'data_root', None))
    return f'{type(leaf).__name__} ({where})' if where else type(leaf).__name__


def _initialised(dataset) -> None:
    """Load the annotations of a lazily initialised data set (a folder-scanned mmpretrain
    ``CustomDataset`` finds its classes only then); the data loader would do it anyway."""
    if getattr(dataset, '_fully_initialized', True) is False and hasattr(dataset, 'full_init'):
        dataset.full_init()


def class_names(dataset) -> Optional[List[str]]:
    """``metainfo['classes']`` of ``dataset`` as a list, or ``None`` if it has none."""
    metainfo = getattr(dataset, 'metainfo', None) or {}
    if metainfo.get('classes') is None:
        _initialised(dataset)
        metainfo = getattr(dataset, 'metainfo', None) or {}
    classes = metainfo.get('classes')
    if classes is None:
        return None
    if isinstance(classes, str):
        raise ClassDataError(f'{dataset_location(dataset)}: metainfo classes is the string '
                             f'{classes!r}; write a tuple, e.g. ({classes!r}, )')
    return [str(c) for c in classes]


def class_folders(dataset) -> Optional[List[str]]:
    """The class folder names of a folder-scanned data set (mmpretrain ``CustomDataset`` /
    ``ImageNet`` without an annotation file), in label order; ``None`` for other data sets.

    These define the labels even where ``metainfo['classes']`` holds other names (ImageNet's
    human-readable class names over ``n01440764``-style folders).
    """
    for leaf in leaf_datasets(dataset):
        _initialised(leaf)
        folder_to_idx = getattr(leaf, 'folder_to_idx', None)
        if folder_to_idx:
            return [osp.basename(osp.normpath(folder)) for folder, _ in
                    sorted(folder_to_idx.items(), key=lambda kv: kv[1])]
    return None


def classes_difference(expected: Sequence[str], expected_name: str, got: Sequence[str],
                       got_name: str) -> Optional[str]:
    """How ``got`` differs from ``expected`` (both class lists, in label order), in words;
    ``None`` if they are equal.

    Names present in only one list are paired up where both sides have the same number of
    them (``val has 'zring' where train has 'ring'``); for the same names in another order
    the first index that differs is named.
    """
    expected, got = list(expected), list(got)
    if expected == got:
        return None
    only_expected = [c for c in expected if c not in set(got)]
    only_got = [c for c in got if c not in set(expected)]
    if only_expected and len(only_expected) == len(only_got):
        pairs = [f'{got_name} has {g!r} where {expected_name} has {e!r}'
                 for e, g in zip(only_expected, only_got)]
        text = '; '.join(pairs[:5]) + ('; ...' if len(pairs) > 5 else '')
    else:
        parts = []
        if only_expected:
            parts.append(f'only in {expected_name}: {only_expected[:10]}')
        if only_got:
            parts.append(f'only in {got_name}: {only_got[:10]}')
        if len(expected) != len(got):
            parts.append(f'{len(expected)} classes in {expected_name}, {len(got)} in '
                         f'{got_name}')
        text = '; '.join(parts)
    first = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), None)
    if first is not None:
        order = (f'label {first} is {expected[first]!r} in {expected_name} but {got[first]!r} '
                 f'in {got_name}')
        text = f'{text}; {order}' if text else f'same names in another order: {order}'
    return text


def check_same_classes(reference, reference_split: str, dataset, split: str) -> None:
    """Raise :class:`ClassDataError` if ``dataset`` labels other classes than ``reference``.

    Compares ``metainfo['classes']`` (names and order) and, where both are folder-scanned,
    the class folder names; a data set without classes is not compared.
    """
    pairs = [('classes', class_names(reference), class_names(dataset)),
             ('class folders', class_folders(reference), class_folders(dataset))]
    for what, ref, got in pairs:
        if ref is None or got is None:
            continue
        diff = classes_difference(ref, reference_split, got, split)
        if diff:
            raise ClassDataError(
                f'the {split} data set {dataset_location(dataset)} has other {what} than the '
                f'{reference_split} data set {dataset_location(reference)}: {diff}. Labels are '
                f'indices into the class list, so every label after the first difference '
                f'would be wrong. Give both splits the same class folders (or the same '
                f'metainfo classes, in the same order).')
