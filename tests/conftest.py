"""Shared pytest set-up: tests run on CPU with a fixed thread count, from the repo root."""
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest
import torch

from mmsdt.utils.private_tempdir import use_private_tempdir

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two pytest-xdist workers on the two cores: one torch thread each, and
    # for the tools they start (two processes spinning on two threads each run 5-10x slower)
    os.environ['OMP_NUM_THREADS'] = '1'
    torch.set_num_threads(1)
else:
    torch.set_num_threads(2)
# inductor's kernel cache (the fused neuron kernels of mmsdt.snn.kernels): every test process
# and every tool a test starts runs at the same thread count, so they share one cache per
# thread count outside the private temp folders below, and each kernel is compiled once per
# machine instead of once per process (a cold compile is ~16 s of CPU on Intel, ~25 s on AMD)
# (the xdist workers inherit the controller's environment and its private TMPDIR, hence the
# name test: a folder a user chose is kept)
_inductor_dir = os.environ.get('TORCHINDUCTOR_CACHE_DIR')
if _inductor_dir is None or os.path.basename(_inductor_dir).startswith('mmsdt-tests-inductor-'):
    os.environ['TORCHINDUCTOR_CACHE_DIR'] = os.path.join(
        os.path.dirname(_inductor_dir) if _inductor_dir else tempfile.gettempdir(),
        f'mmsdt-tests-inductor-{os.getuid()}-{torch.get_num_threads()}t')
# the suite's in-process data-loader workers leave their pymp-* folders in a private temp
# folder that goes with the test process, as the tools' do (mmsdt.utils.private_tempdir)
use_private_tempdir()
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
def fuse_small_tensors(monkeypatch):
    """Let the fused training kernels (mmsdt.snn.kernels.fused_bn_spike) run on the tests'
    small tensors too (by default tensors under MIN_FUSED_NUMEL elements take the eager path,
    which is faster there)."""
    from mmsdt.snn.kernels import fused_bn_spike
    monkeypatch.setattr(fused_bn_spike, 'MIN_FUSED_NUMEL', 1)


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


def randomise_bn_stats(model, seed=0):
    """Random BN running statistics and affine parameters (seeded) so that the neurons after
    them fire with several counts; returns the model."""
    from torch.nn.modules.batchnorm import _BatchNorm
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.2)
    return model


def load_tool_module(relpath):
    """A script under tools/ (not a package) imported as a module."""
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def randomise_bn():
    """:func:`randomise_bn_stats`."""
    return randomise_bn_stats


@pytest.fixture(scope='session')
def load_tool():
    """:func:`load_tool_module`."""
    return load_tool_module
