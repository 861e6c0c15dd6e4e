"""mmsdt.utils.private_tempdir: data-loader workers leave no pymp-* folder behind."""
import os
import subprocess
import sys
import textwrap

from conftest import REPO

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

    # persistent workers are terminated at exit, the case that leaked one folder per worker
    loader = DataLoader(Zeros(), batch_size=2, num_workers=2, persistent_workers=True)
    for _ in range(2):
        for _batch in loader:
            pass
    print('workers made', len(glob.glob(os.path.join(private, 'pymp-*'))), 'folders in', private)
''')


def test_tool_run_leaves_no_temp_folder(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, '-c', SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    made = int(out.split('workers made ')[1].split()[0])
    assert made >= 1, out  # the workers did use the private folder
    assert os.listdir(tmp_path) == [], out  # and nothing is left after the process ended
