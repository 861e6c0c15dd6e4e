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
