"""Fixtures of the toy-data tests: helpers that read and age a generated file tree."""
import os
from types import SimpleNamespace

import pytest


def _files(root):
    """Relative path -> bytes for every file under root (marker included)."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def _mtimes(root):
    """Relative path -> modification time (ns) for every file under root."""
    return {
        os.path.relpath(os.path.join(d, n), root): os.stat(os.path.join(d, n)).st_mtime_ns
        for d, _, names in os.walk(root) for n in names
    }


def _age(root, seconds=1000):
    """Push every file's mtime into the past so that a rewrite is visible."""
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            st = os.stat(p)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))


@pytest.fixture
def file_tree():
    """``files(root)``, ``mtimes(root)`` and ``age(root)`` of a generated data set."""
    return SimpleNamespace(files=_files, mtimes=_mtimes, age=_age)
