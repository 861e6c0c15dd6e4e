"""Checkpoint hooks: checkpoints that ``torch.load(weights_only=True)`` reads, saved atomically.

``mmsdt.AtomicCheckpointHook`` is mmengine's ``CheckpointHook`` with a crash-safe order of
file operations; ``mmsdt.SafeCheckpointHook`` is the older custom hook that only drops the
log histories (the atomic hook does that too).
"""
import os
import os.path as osp
import re

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook, Hook

from mmsdt.registry import HOOKS

POINTER_FILE = 'last_checkpoint'


def drop_log_histories(checkpoint: dict) -> None:
    """Empty the message hub's logged-scalar histories of a checkpoint about to be saved.

    mmengine pickles its ``HistoryBuffer`` log windows together with their statistics
    methods (``builtins.getattr`` references), which ``torch.load(weights_only=True)``
    refuses. Without them every object left is on mmsdt's allow-list (see
    :mod:`mmsdt.utils.checkpoint`). A resumed run's smoothed log values restart their window.
    """
    hub = checkpoint.get('message_hub')
    if isinstance(hub, dict) and 'log_scalars' in hub:
        hub['log_scalars'] = {}


def temporary_name(filename: str) -> str:
    """The hidden name a file is written under before it is renamed to ``filename``."""
    return f'.{filename}.{os.getpid()}.tmp'


def _fsync_dir(folder: str) -> None:
    """Make a rename in ``folder`` durable (best effort: not every platform opens folders)."""
    try:
        fd = os.open(folder or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish_file(tmp_path: str, path: str) -> None:
    """Flush ``tmp_path`` to disk, then rename it to ``path`` in one step (``os.replace``)."""
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)
    _fsync_dir(osp.dirname(path))


def remove_quietly(path: str) -> None:
    """Remove a file if it exists (cleaning up after a failed write)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def write_text_atomically(path: str, text: str) -> None:
    """Replace the file ``path`` by one holding ``text``: readers see the old or the new text,
    never a partial one."""
    tmp_path = osp.join(osp.dirname(path), temporary_name(osp.basename(path)))
    try:
        with open(tmp_path, 'w') as f:
            f.write(text)
        publish_file(tmp_path, path)
    except BaseException:
        remove_quietly(tmp_path)
        raise


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same options, file names and checkpoint contents) with a
    crash-safe order of file operations.

    mmengine 0.10.7 deletes the oldest checkpoint before writing the new one in place and then
    rewrites ``last_checkpoint``: a kill or a full disk during a save with
    ``max_keep_ckpts=1`` leaves no loadable checkpoint and a pointer to a deleted file. Here a
    save

    1. writes the checkpoint to a hidden temporary file in the same folder
       (``.iter_30.pth.<pid>.tmp``) and flushes it to disk;
    2. renames it to its final name in one step (``os.replace``);
    3. replaces ``last_checkpoint`` the same way (temporary file, rename);
    4. only then deletes the checkpoints beyond ``max_keep_ckpts``.

    A save that fails removes its temporary file and leaves the previous checkpoint and
    pointer as they were; temporaries left by a killed process are removed when training
    starts. Checkpoints drop the log histories that ``weights_only=True`` cannot read
    (:func:`drop_log_histories`). Non-main ranks do what the stock hook does. A non-local
    ``out_dir`` (``backend_args`` / ``file_client_args`` backends) falls back to the stock
    order. ``mmsdt.SafeRunner`` uses this hook wherever a config names mmengine's
    ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        """Set up as the stock hook, then remove temporaries a killed save left behind."""
        super().before_train(runner)
        if not self._atomic or not is_main_process():
            return
        stale = re.compile(r'^\.' + re.escape(self.filename_tmpl).replace(r'\{\}', r'\d+') +
                           r'\.\d+\.tmp$')
        for folder, pattern in ((self.out_dir, stale),
                                (runner.work_dir, re.compile(rf'^\.{POINTER_FILE}\.\d+\.tmp$'))):
            if not osp.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                if pattern.match(name):
                    runner.logger.warning(f'Removing {osp.join(folder, name)}, an unfinished '
                                          'checkpoint save of an earlier run')
                    remove_quietly(osp.join(folder, name))

    @property
    def _atomic(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint loadable with ``weights_only=True``."""
        drop_log_histories(checkpoint)

    def _expire_ids(self, runner, step) -> list:
        """Record ``step`` among the kept checkpoints; return the steps whose files are to go
        once the new checkpoint is saved (the stock bookkeeping, without deleting yet)."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        expired = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            expired.append(self.keep_ckpt_ids.popleft())
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return expired

    def _save_checkpoint_with_step(self, runner, step, meta):
        if not self._atomic:
            return super()._save_checkpoint_with_step(runner, step, meta)
        expired = self._expire_ids(runner, step)
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        tmp_path = osp.join(self.out_dir, temporary_name(filename))
        try:
            runner.save_checkpoint(
                self.out_dir, temporary_name(filename), self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
            if is_main_process():
                publish_file(tmp_path, self.last_ckpt)
        except BaseException:
            if is_main_process():
                remove_quietly(tmp_path)
            raise
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, POINTER_FILE), self.last_ckpt)
        for old in expired:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if path != self.last_ckpt and osp.isfile(path):
                os.remove(path)


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Drop the message hub's logged-scalar histories from saved checkpoints.

    Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which refuses the log
    histories mmengine pickles, so ``--resume`` and ``load_from`` of a stock mmengine 0.10.7
    checkpoint fail (:func:`drop_log_histories`). ``mmsdt.AtomicCheckpointHook``, which
    ``mmsdt.SafeRunner`` puts in place of mmengine's ``CheckpointHook``, does the same; this
    custom hook keeps configs that list it
    (``custom_hooks = [dict(type='mmsdt.SafeCheckpointHook')]``) working and makes a stock
    runner's checkpoints loadable too.
    """
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Drop the histories."""
        drop_log_histories(checkpoint)
