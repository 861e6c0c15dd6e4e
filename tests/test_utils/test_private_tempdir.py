"""mmsdt.utils.private_tempdir: data-loader workers leave no pymp-* folder behind."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent('''
    import glob, os, sys, tempfile
    import torch
    from torch.utils.data import DataLoader, Dataset
    from mmsdt.utils.private_tempdir import use_private_tempdir

    private = use_private_tempdir()
    assert use_private_tempdir() == private  # idempotent
    assert tempfile.gettempdir() == private and os.environ['TMPDIR'] == private

    class Zeros(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return torch.zeros(3)

    # persistent workers are terminated at exit, the case that leaked one folder per worker;
    # their batches reach the main process through a Unix socket in the private folder
    loader = DataLoader(Zeros(), batch_size=2, num_workers=2, persistent_workers=True,
                        timeout=60)
    batches = sum(1 for _ in range(2) for _batch in loader)
    print('batches', batches, 'workers made',
          len(glob.glob(os.path.join(private, 'pymp-*'))), 'folders in', private)
''')


@pytest.fixture
def short_tmp():
    """A temporary folder with a short path, as a user's TMPDIR usually is."""
    path = tempfile.mkdtemp(prefix='pt-', dir='/tmp' if os.path.isdir('/tmp') else None)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _run(tmpdir) -> str:
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, '-c', SCRIPT], env=env, capture_output=True,
                          text=True, timeout=120, check=True).stdout


def test_tool_run_leaves_no_temp_folder(short_tmp):
    out = _run(short_tmp)
    assert 'batches 8 ' in out, out
    assert out.split('folders in ')[1].strip().startswith(str(short_tmp)), out
    assert int(out.split('workers made ')[1].split()[0]) >= 1, out  # the folder was used
    assert os.listdir(short_tmp) == [], out  # and nothing is left after the process ended


def test_a_temp_dir_too_long_for_worker_sockets_is_not_used(short_tmp):
    long_dir = short_tmp / ('d' * 80)  # a socket path inside it would pass 107 bytes
    long_dir.mkdir()
    out = _run(long_dir)  # the workers' batches arrive (they were lost before: a hang)
    assert 'batches 8 ' in out, out
    private = out.split('folders in ')[1].strip()
    assert os.path.dirname(private) == '/tmp' and not os.path.exists(private), out
    assert os.listdir(long_dir) == [], out
