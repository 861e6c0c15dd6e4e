"""Shared pytest set-up: tests run on CPU with a fixed thread count, from the repo root."""
from pathlib import Path

import pytest
import torch

torch.set_num_threads(2)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root(monkeypatch):
    """Run the test from the repository root (configs use relative paths)."""
    monkeypatch.chdir(REPO)
    return REPO


def _scope(name):
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(name):
        yield


@pytest.fixture
def mmdet_scope():
    """Run the test with mmdet as the default registry scope."""
    yield from _scope('mmdet')


@pytest.fixture
def mmseg_scope():
    """Run the test with mmseg as the default registry scope."""
    yield from _scope('mmseg')


@pytest.fixture
def mmpretrain_scope():
    """Run the test with mmpretrain as the default registry scope."""
    yield from _scope('mmpretrain')
