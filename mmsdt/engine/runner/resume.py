"""Which checkpoints an automatic ``--resume`` tries, newest first, and what a checkpoint needs
to be resumed from."""
import os
import os.path as osp
import re
from typing import List, Tuple

from mmsdt.utils import CheckpointError
from ..hooks.safe_checkpoint_hook import POINTER_FILE

_STEP_FILE = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def read_pointer(work_dir: str) -> Tuple[str, str]:
    """The checkpoint path ``WORK_DIR/last_checkpoint`` names.

    Returns:
        tuple: ``(path, problem)``: ``path`` is ``''`` when there is no usable pointer, and
        ``problem`` then says why when a pointer file exists (empty, unreadable).
    """
    pointer = osp.join(work_dir, POINTER_FILE)
    if not osp.isfile(pointer):
        return '', ''
    try:
        with open(pointer) as f:
            path = f.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        return '', f'{pointer} cannot be read ({type(err).__name__}: {err})'
    if not path:
        return '', f'{pointer} is empty'
    return path, ''


def step_checkpoints(folder: str) -> List[str]:
    """The ``iter_N.pth`` / ``epoch_N.pth`` files in ``folder``, largest ``N`` first."""
    if not osp.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        match = _STEP_FILE.match(name)
        path = osp.join(folder, name)
        if match and osp.isfile(path):
            found.append((int(match.group(1)), osp.getmtime(path), path))
    return [path for *_, path in sorted(found, reverse=True)]


def resume_candidates(work_dir: str) -> Tuple[List[str], List[str]]:
    """The checkpoints to try for an automatic resume, in order, and notes on the pointer.

    The file ``last_checkpoint`` names comes first (it is authoritative: in a reused work dir
    an older run may have left higher-numbered files), then every ``iter_N.pth`` /
    ``epoch_N.pth`` in the work dir and in the pointer's folder, largest ``N`` first. A
    pointer to a missing file stays in the list (so it is reported as a fault).

    Returns:
        tuple: ``(candidates, notes)``; ``notes`` are warnings about the pointer file.
    """
    pointed, problem = read_pointer(work_dir)
    notes = [f'{problem}; looking for iter_*.pth / epoch_*.pth files instead'] if problem else []
    candidates = [pointed] if pointed else []
    folders = [work_dir] + ([osp.dirname(pointed)] if pointed else [])
    for folder in folders:
        for path in step_checkpoints(folder):
            if not any(osp.abspath(path) == osp.abspath(c) for c in candidates):
                candidates.append(path)
    return candidates, notes


def check_training_checkpoint(checkpoint: dict, source: str) -> None:
    """Raise unless ``checkpoint`` holds what mmengine's ``Runner.resume`` reads.

    Raises:
        CheckpointError: naming ``source`` and the missing entry (a weights-only file, e.g. a
            converted or published one, belongs in ``load_from``).
    """
    meta = checkpoint.get('meta')
    if isinstance(meta, dict):
        missing = [f'meta.{key}' for key in ('epoch', 'iter') if key not in meta]
    else:
        missing = ['meta']
    missing += [key for key in ('state_dict', 'message_hub')
                if not isinstance(checkpoint.get(key), dict)]
    if missing:
        raise CheckpointError(
            f'{source} is not a training checkpoint that can be resumed (no {", ".join(missing)}'
            f'); to start from its weights only, use load_from instead of resume')
