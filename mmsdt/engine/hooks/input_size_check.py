"""Train and val pipelines of a classification config must give inputs of one shape.

A pipeline that only crops (``RandomCrop`` 64 with padding 4) turns a 32 x 32 image into a
40 x 40 one, because a crop larger than the image does nothing, while a test pipeline without
a resize feeds the 32 x 32 originals: the model is evaluated at another size than it trained
at, with no error. Classifiers take fixed-size inputs, so one sample of each split through its
pipeline shows the mismatch before the first step. Detection and segmentation pipelines give
images of varying size by design and are not compared.
"""
import contextlib
import random
from typing import Iterator, Tuple

import numpy as np
import torch

from .class_name_check import dataset_location, leaf_datasets
from .data_check_error import InputSizeError


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore Python's, numpy's and torch's global random states on exit, so a pipeline run
    for a check does not change the random stream of the training that follows."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


def _pipeline_names(dataset) -> str:
    leaf = next(iter(leaf_datasets(dataset)))
    transforms = getattr(getattr(leaf, 'pipeline', None), 'transforms', None) or []
    return ' -> '.join(type(t).__name__ for t in transforms) or '(no pipeline)'


def sample_input(dataset) -> Tuple[Tuple[int, ...], str]:
    """The shape of ``dataset[0]['inputs']`` and the image it came from (path and size),
    with the global random states unchanged."""
    with preserved_rng():
        sample = dataset[0]
    inputs = sample['inputs'] if isinstance(sample, dict) else None
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f'{dataset_location(dataset)}: a sample\'s inputs are '
                        f'{type(inputs).__name__}, not one image tensor')
    data_sample = sample.get('data_samples')
    meta = data_sample.metainfo if hasattr(data_sample, 'metainfo') else {}
    source = str(meta.get('img_path') or 'sample 0')
    if meta.get('ori_shape') is not None:
        source += ' of size {}x{}'.format(*meta['ori_shape'][:2])
    return tuple(inputs.shape), source


def check_same_input_size(train, val) -> None:
    """Raise :class:`InputSizeError` if the first sample of ``train`` and of ``val`` come out
    of their pipelines with different input shapes.

    Raises:
        InputSizeError: naming both shapes, the images and both pipelines.
    """
    if not len(train) or not len(val):
        return
    train_shape, train_source = sample_input(train)
    val_shape, val_source = sample_input(val)
    if train_shape == val_shape:
        return
    raise InputSizeError(
        f'the train pipeline gives inputs of shape {train_shape} ({train_source}, '
        f'{_pipeline_names(train)}) but the val pipeline {val_shape} ({val_source}, '
        f'{_pipeline_names(val)}): the classifier would be evaluated at another size than it '
        f'trains at. Make both pipelines end at one size whatever the image size, e.g. '
        f'Resize(scale=S) first in train_pipeline and test_pipeline (a crop larger than the '
        f'image does nothing in mmpretrain\'s RandomCrop; mmsdt.CheckedRandomCrop pads it). '
        f'To skip this check: ClassDataCheckHook(check_input_size=False).')
