"""Reading checkpoints safely and loading whole models strictly (any model).

Files are read with ``torch.load(weights_only=True)`` and a short allow-list of trusted globals
(``argparse.Namespace``, numpy array reconstruction, mmengine's log buffer); anything else is
refused with an error naming the file. :func:`extract_state_dict` finds the state dict of a
released, mmengine or bare checkpoint; :func:`load_model_state` / :func:`load_model_checkpoint`
load whole models strictly (the tools and ``mmsdt.SafeRunner``). What a model's own files look
like (key names, allowances, conversions) lives beside the model, e.g.
:mod:`mmsdt.models.backbones.e_spikeformer_converter`; such a module may register a hint
(:func:`register_checkpoint_hint`) that the strict loader adds to its error message.
"""
import argparse
import logging
import os
import pickle
import re
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or does not fit the model."""


# functions state_dict -> str ('' when silent) whose text the strict loader adds to a
# missing / unexpected key error (e.g. "convert this file with ...")
_HINTS: List[Callable[[Mapping[str, torch.Tensor]], str]] = []


def register_checkpoint_hint(hint: Callable[[Mapping[str, torch.Tensor]], str]) -> None:
    """Add a hint to the errors of :func:`load_model_state`: ``hint(state_dict)`` returns a
    sentence (e.g. naming the converter of a file layout it recognises) or ``''``."""
    if hint not in _HINTS:
        _HINTS.append(hint)


# functions (model, checkpoint dict, source) that raise CheckpointError when a checkpoint does
# not fit a model in a way keys and shapes do not show (e.g. a model option recorded in meta)
_CHECKS: List[Callable[[nn.Module, Mapping, str], None]] = []


def register_checkpoint_check(check: Callable[[nn.Module, Mapping, str], None]) -> None:
    """Add a check that :func:`load_model_state` runs before loading: ``check(model, ckpt,
    source)`` raises :class:`CheckpointError` when the checkpoint does not fit ``model``."""
    if check not in _CHECKS:
        _CHECKS.append(check)


def short_list(keys: Sequence[str], n: int = 20) -> str:
    """The first ``n`` keys, comma-separated, and how many more there are."""
    keys = list(keys)
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def _trusted_globals() -> list:
    """Globals a checkpoint may reference: argparse namespaces and plain numpy data."""
    trusted = [argparse.Namespace, np.ndarray, np.dtype]
    core = getattr(np, '_core', None) or np.core
    trusted += [core.multiarray._reconstruct, core.multiarray.scalar]
    trusted += [type(np.dtype(t)) for t in ('f2', 'f4', 'f8', 'i1', 'i2', 'i4', 'i8', 'u1', '?')]
    try:  # mmengine checkpoints pickle their message hub's HistoryBuffer objects
        from mmengine.logging.history_buffer import HistoryBuffer
        trusted.append(HistoryBuffer)
    except ImportError:  # pragma: no cover - mmengine is a hard dependency
        pass
    return trusted


def allow_trusted_checkpoint_globals() -> None:
    """Add the allow-list to torch's process-wide safe globals (mmengine's loaders use it)."""
    torch.serialization.add_safe_globals(_trusted_globals())


def load_checkpoint_file(path: str) -> dict:
    """Read a checkpoint dict safely (``weights_only=True`` with an allow-list).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: empty, truncated, not a torch checkpoint, not a dict, or pickling a
            global outside the allow-list; the message names the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if os.path.getsize(path) == 0:
        raise CheckpointError(f'{path} is empty (0 bytes): not a torch checkpoint')
    # Process-wide, not torch's safe_globals context: leaving that context removes its
    # globals even when they had been allow-listed before (mmengine's loaders need them).
    allow_trusted_checkpoint_globals()
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f'{path}: refused by the safe unpickler (a global outside mmsdt\'s allow-list): '
            f'{str(err).splitlines()[0]}') from err
    except Exception as err:  # zip / EOF / pickle-protocol errors of a damaged file
        raise CheckpointError(f'{path} is not a readable torch checkpoint (truncated or not a '
                              f'checkpoint): {type(err).__name__}: {err}') from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f'{path}: expected a dict checkpoint, got {type(ckpt).__name__}')
    return ckpt


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def extract_state_dict(ckpt: dict, source: str = '<checkpoint>') -> Dict[str, torch.Tensor]:
    """The state dict inside a released, mmengine or bare checkpoint.

    ``state_dict`` (mmengine) is preferred, then ``model`` (released files), else the dict
    itself if it is a bare state dict; non-tensor entries are dropped and a ``module.``
    prefix on every key (DDP) is removed.
    """
    for key in ('state_dict', 'model'):
        if key in ckpt and isinstance(ckpt[key], dict):
            sd = ckpt[key]
            break
    else:
        if not _is_state_dict(ckpt):
            raise CheckpointError(f'{source}: no state dict found (expected a "state_dict" or '
                                  f'"model" entry, or tensors); top-level keys: {sorted(ckpt)}')
        sd = ckpt
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if sd and all(k.startswith('module.') for k in sd):
        sd = {k[len('module.'):]: v for k, v in sd.items()}
    return sd


def first_shape_mismatch(sd: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor],
                          source: str) -> None:
    """Raise :class:`CheckpointError` naming the first key (in the model's order) whose shapes
    differ between ``sd`` and ``target``, and how many differ."""
    mismatched = [k for k in target if k in sd and sd[k].shape != target[k].shape]
    if mismatched:
        k = mismatched[0]
        raise CheckpointError(
            f'{source}: shape mismatch for {len(mismatched)} key(s); first: {k}: checkpoint '
            f'{tuple(sd[k].shape)} vs model {tuple(target[k].shape)} (a checkpoint of another '
            f'arch or number of classes?)')


def _revised(sd: Dict[str, torch.Tensor],
             revise_keys: Sequence[Tuple[str, str]]) -> Dict[str, torch.Tensor]:
    """``sd`` with every ``(pattern, replacement)`` regex of ``revise_keys`` applied to its
    keys in turn (mmengine's ``revise_keys``); two keys mapped to one name raise."""
    for pattern, replacement in revise_keys:
        revised = {}
        for k, v in sd.items():
            new = re.sub(pattern, replacement, k)
            if new in revised:
                raise CheckpointError(f'revise_keys ({pattern!r} -> {replacement!r}) maps two '
                                      f'checkpoint keys to {new!r}')
            revised[new] = v
        sd = revised
    return sd


def load_model_state(model: nn.Module, ckpt: dict, source: str,
                     revise_keys: Sequence[Tuple[str, str]] = (),
                     logger: Optional[logging.Logger] = None) -> None:
    """Load the state dict of an already read checkpoint into ``model`` strictly.

    The state dict is found as in :func:`extract_state_dict`, then ``revise_keys``
    (``(pattern, replacement)`` regexes, as mmengine's loaders take them) rename its keys.
    BN ``num_batches_tracked`` counters may be missing; a shape mismatch, a missing or an
    unexpected key raises :class:`CheckpointError` naming ``source`` and the first
    offending key (with both shapes for a shape mismatch).
    """
    log = logger or logging.getLogger(__name__)
    for check in _CHECKS:
        check(model, ckpt, source)
    sd = _revised(extract_state_dict(ckpt, source=source), revise_keys)
    target = model.state_dict()
    first_shape_mismatch(sd, target, source)
    missing = [k for k in target if k not in sd and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in sd if k not in target]
    if missing or unexpected:
        hint = ''.join(f' {h}' for h in (fn(sd) for fn in _HINTS) if h)
        raise CheckpointError(
            f'{source} does not fit {type(model).__name__}: {len(missing)} missing key(s) '
            f'[{short_list(missing, 5)}], {len(unexpected)} unexpected key(s) '
            f'[{short_list(unexpected, 5)}].{hint}')
    model.load_state_dict({k: sd.get(k, v) for k, v in target.items()}, strict=True)
    log.info(f'Loaded all {len(target)} tensors of {type(model).__name__} from {source}')


def load_model_checkpoint(model: nn.Module, path: str,
                          logger: Optional[logging.Logger] = None) -> dict:
    """Load a whole-model checkpoint (detector, segmentor, classifier) strictly.

    What the tools and ``mmsdt.SafeRunner`` (``load_from``, ``--resume``) use instead of
    mmengine's loader, which only warns about missing, unexpected or resized keys and then
    evaluates a partly random model. The file is read with :func:`load_checkpoint_file` and
    checked as in :func:`load_model_state`; a file layout that a model's converter module
    recognises (e.g. a released SDT-V3 file, see :func:`register_checkpoint_hint`) gets the
    converter named in the error.

    Returns:
        dict: the checkpoint (e.g. its ``meta`` with the ``dataset_meta`` class names).
    """
    path = os.fspath(path)
    ckpt = load_checkpoint_file(path)
    load_model_state(model, ckpt, path, logger=logger)
    return ckpt
