"""projects/ is not an installed package: its configs import it from the repository root."""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import find_packages
from setuptools.config.setupcfg import read_configuration

REPO = Path(__file__).resolve().parents[2]


def test_setup_installs_mmsdt_only():
    find = read_configuration(str(REPO / 'setup.cfg'))['options']['packages']
    packages = find_packages(str(REPO), include=['mmsdt', 'mmsdt.*'])
    assert set(find) == set(packages) and 'mmsdt.snn' in find
    assert not [p for p in find if p.split('.')[0] != 'mmsdt']


def test_projects_is_not_importable_outside_the_repository(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    code = 'import importlib.util, mmsdt; print(importlib.util.find_spec("projects"))'
    res = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == 'None'
