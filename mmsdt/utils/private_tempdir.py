"""A private temporary folder per tool run, removed when the run ends.

torch's data-loader workers (fork start) create a ``pymp-*`` folder each in the temporary
directory the first time they pass a tensor to the main process (multiprocessing's
``resource_sharer`` listens on a socket there). A worker removes its folder only when it exits
normally; persistent workers are instead terminated by the main process at interpreter exit, so
every tool run with ``persistent_workers=True`` left one folder per worker behind.

:func:`use_private_tempdir` points ``tempfile`` (and, through ``TMPDIR``, the processes the run
starts) at one fresh folder and removes that folder, with whatever the workers left in it, when
the process that made it exits. Tools call it first thing when run as scripts.

Workers pass tensors through Unix sockets created inside that folder, and a socket path has at
most 107 bytes on Linux (Python 3.11 does not check): where the folder's path would leave too
little room, it is made under ``/tmp`` instead.
"""
import atexit
import os
import shutil
import tempfile
from typing import Optional

_ACTIVE: Optional[str] = None
# what multiprocessing appends to the folder for a worker's socket:
# '/pymp-XXXXXXXX/listener-XXXXXXXX'
_SOCKET_SUFFIX = 32
_MAX_SOCKET_PATH = 107


def _remove(path: str, owner_pid: int) -> None:
    """Remove ``path`` if this is the process that made it (forked children never remove it)."""
    if os.getpid() == owner_pid:
        shutil.rmtree(path, ignore_errors=True)


def use_private_tempdir(prefix: str = 'mmsdt-') -> str:
    """Make a fresh folder under the current temporary directory the temporary directory of
    this process and its children, removed at exit; returns its path.

    Idempotent within one process: a second call returns the folder of the first. Worker
    processes forked from this one inherit the folder; spawned processes find it through
    ``TMPDIR``.
    """
    global _ACTIVE
    if _ACTIVE is not None and os.path.isdir(_ACTIVE):
        return _ACTIVE
    base = tempfile.gettempdir()
    if len(os.path.join(base, prefix + 'x' * 8)) + _SOCKET_SUFFIX > _MAX_SOCKET_PATH \
            and os.path.isdir('/tmp'):
        base = '/tmp'  # a long TMPDIR: worker sockets would not fit
    path = tempfile.mkdtemp(prefix=prefix, dir=base)
    tempfile.tempdir = path
    os.environ['TMPDIR'] = path
    atexit.register(_remove, path, os.getpid())
    _ACTIVE = path
    return path
