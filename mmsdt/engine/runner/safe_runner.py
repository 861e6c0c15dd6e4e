"""mmengine's Runner with strict, safe checkpoint loading, a resume that never starts over
silently, and crash-safe checkpoint saving."""
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmsdt.registry import RUNNERS
from mmsdt.utils import CheckpointError, load_checkpoint_file, load_model_state
from ..hooks.safe_checkpoint_hook import AtomicCheckpointHook
from .resume import check_training_checkpoint, resume_candidates

_STOCK_CHECKPOINT_HOOK = ('CheckpointHook', 'mmengine.CheckpointHook', CheckpointHook)


def with_atomic_checkpoint_hook(
        default_hooks: Optional[Dict[str, Union[Hook, dict, None]]]) -> Dict:
    """``default_hooks`` with mmengine's ``CheckpointHook`` (named, or the one mmengine adds
    when ``checkpoint`` is not given) replaced by :class:`AtomicCheckpointHook` with the same
    options. A hook object, another hook type or ``checkpoint=None`` is kept as it is."""
    hooks = dict(default_hooks or {})
    checkpoint = hooks.get('checkpoint', dict(type='CheckpointHook', interval=1))
    if isinstance(checkpoint, dict) and checkpoint.get('type') in _STOCK_CHECKPOINT_HOOK:
        hooks['checkpoint'] = dict(checkpoint, type=AtomicCheckpointHook)
    return hooks


@RUNNERS.register_module()
class SafeRunner(Runner):
    """mmengine's ``Runner`` that loads every checkpoint strictly and safely, resumes from the
    newest intact checkpoint and saves checkpoints atomically.

    ``runner_type='mmsdt.SafeRunner'`` in a config (mmsdt's runtime bases set it; the mmsdt
    tools use it for any config without a ``runner_type``).

    * Loading (``load_from``, ``resume`` / ``--resume``): the file is read with
      :func:`mmsdt.utils.load_checkpoint_file` (``weights_only=True`` and an allow-list; a
      pickle that would run code is refused, the payload never runs) and loaded with
      :func:`mmsdt.utils.load_model_state`: a missing, unexpected or resized key is an error
      naming the file and the key, where mmengine only warns and trains a partly random model.
      ``revise_keys`` works as in mmengine; ``strict=False`` is refused. Files are local paths
      and always read to the CPU (the model and optimizer copy them to their device).
      Hooks' ``after_load_checkpoint`` see the checkpoint before the model load, as in
      mmengine.
    * Automatic resume (``resume=True``, no ``load_from``): the checkpoint
      ``WORK_DIR/last_checkpoint`` names, else the ``iter_N.pth`` / ``epoch_N.pth`` files,
      largest ``N`` first (:func:`resume_candidates`). An unreadable, truncated, empty or
      weights-only file is skipped with a warning naming it and the fault; if every
      candidate is damaged the run stops with an error listing them; with no checkpoint at
      all it says so and starts from scratch. An explicit checkpoint (``--resume CKPT``,
      ``load_from``) that is damaged is an error, never a silent fallback.
    * Saving: mmengine's ``CheckpointHook`` in ``default_hooks`` (or the one mmengine adds by
      default) becomes :class:`mmsdt.AtomicCheckpointHook` with the same options
      (temporary file, rename, pointer, then deletion of old files).
    """
    _checkpoint_cache: Optional[Tuple[str, dict]] = None

    def register_hooks(self, default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
                       custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """Register the hooks, with an atomic checkpoint hook in place of mmengine's."""
        super().register_hooks(with_atomic_checkpoint_hook(default_hooks), custom_hooks)

    def load_or_resume(self) -> None:
        """Load ``load_from`` or resume, once; an automatic resume picks the checkpoint."""
        if self._has_loaded:
            return
        if self._resume and self._load_from is None:
            resume_from = self.find_resume_checkpoint()
            if resume_from is None:
                self.logger.warning(f'Resume: no checkpoint in {self.work_dir}, starting from '
                                    'scratch')
            else:
                self.resume(resume_from)
        elif self._resume:
            self.resume(self._load_from)
        elif self._load_from is not None:
            self.load_checkpoint(self._load_from)
        # an automatic resume that found nothing is decided too: a later val() / test() in
        # this process must not resume from the checkpoints this run saved
        self._has_loaded = self._has_loaded or self._resume

    def find_resume_checkpoint(self) -> Optional[str]:
        """The newest intact checkpoint of the work dir, or None when it has none.

        Damaged candidates are skipped with a warning naming each and its fault; the one
        found stays read for :meth:`resume`.

        Raises:
            CheckpointError: checkpoints exist, but none can be resumed from (all listed).
        """
        candidates, notes = resume_candidates(self.work_dir)
        for note in notes:
            self.logger.warning(note)
        faults = []
        for path in candidates:
            try:
                checkpoint = self._read_training_checkpoint(path)
            except (CheckpointError, OSError) as err:
                faults.append(f'{path}: {err}')
                self.logger.warning(f'Resume: skipping {path}: {err}')
                continue
            if faults:
                self.logger.warning(f'Resume: falling back to {path}, the newest intact '
                                    f'checkpoint ({len(faults)} newer one(s) damaged)')
            self.logger.info(f'Auto resumed from the latest intact checkpoint {path}.')
            self._checkpoint_cache = (path, checkpoint)
            return path
        if faults:
            raise CheckpointError(
                f'Resume: no intact checkpoint in {self.work_dir}; ' + '; '.join(faults) +
                '. Give one with --resume CKPT (resume=True, load_from=CKPT), or remove them '
                'and train without --resume to start from scratch.')
        return None

    def resume(self, filename: str, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location='default') -> None:
        """mmengine's resume, from a checkpoint checked to be a readable training
        checkpoint first (an error names the file and the fault)."""
        filename = os.fspath(filename)
        cached = self._checkpoint_cache
        if cached is None or cached[0] != filename:
            self._checkpoint_cache = (filename, self._read_training_checkpoint(filename))
        try:
            super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        finally:
            self._checkpoint_cache = None

    def load_checkpoint(self, filename: str, map_location='cpu', strict: bool = True,
                        revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )) -> dict:
        """Read ``filename`` safely, let hooks see it, load it into the model strictly.

        ``map_location`` is accepted for mmengine's callers; files are read to the CPU.

        Raises:
            FileNotFoundError: no such file.
            CheckpointError: unreadable, truncated, empty or unsafe file, or one that does not
                fit the model (the message names the file and the key).
            ValueError: ``strict`` is false.
        """
        if not strict:
            raise ValueError('mmsdt.SafeRunner loads checkpoints strictly; to load part of a '
                             "model use the component's init_cfg "
                             "(dict(type='Pretrained', checkpoint=..., prefix=...))")
        filename = os.fspath(filename)
        cached = self._checkpoint_cache
        checkpoint = cached[1] if cached is not None and cached[0] == filename else \
            self._read_checkpoint(filename)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        load_model_state(model, checkpoint, filename, revise_keys=revise_keys,
                         logger=self.logger)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @staticmethod
    def _read_checkpoint(filename: str) -> dict:
        if '://' in filename:
            raise CheckpointError(f'{filename}: mmsdt.SafeRunner reads local checkpoint files '
                                  'only; download it and give its path')
        return load_checkpoint_file(filename)

    def _read_training_checkpoint(self, filename: str) -> dict:
        checkpoint = self._read_checkpoint(filename)
        check_training_checkpoint(checkpoint, filename)
        return checkpoint
