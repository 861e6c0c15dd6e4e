"""Loading released SDT-V3 ImageNet checkpoints (and mmengine ones) into mmsdt backbones.

Released files are ``{'model': state_dict, 'args': argparse.Namespace, 'optimizer', 'epoch',
'scaler'}``. They are read with ``torch.load(weights_only=True)`` and a short allow-list of
trusted globals (``argparse.Namespace``, numpy array reconstruction, mmengine's log buffer);
anything else is refused with an error naming the file. Key handling lives here only:
``extract_backbone_state_dict`` picks and strips, ``load_backbone_checkpoint`` checks
strictly and reports, ``load_model_state`` / ``load_model_checkpoint`` load whole models
strictly (the tools and ``mmsdt.SafeRunner``).
"""
import argparse
import logging
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or does not fit the model."""


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


def extract_backbone_state_dict(ckpt: dict, prefix: Optional[str] = None,
                                source: str = '<checkpoint>') -> Dict[str, torch.Tensor]:
    """The backbone state dict inside a released, mmengine or bare checkpoint.

    The state dict is found as in :func:`extract_state_dict`. With ``prefix`` (e.g.
    ``'backbone.'``) only keys under it are kept, stripped. Without it, ``backbone.`` is used
    when such keys exist (whole-model checkpoints).
    """
    sd = extract_state_dict(ckpt, source)
    if prefix is None and any(k.startswith('backbone.') for k in sd):
        prefix = 'backbone.'
    if prefix:
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not sd:
            raise CheckpointError(f'{source}: no key starts with prefix {prefix!r}')
    return sd


def _first_shape_mismatch(sd: Dict[str, torch.Tensor], target: Dict[str, torch.Tensor],
                          source: str) -> None:
    """Raise naming the first key (in the model's order) whose shapes differ, and the count."""
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
    sd = _revised(extract_state_dict(ckpt, source=source), revise_keys)
    target = model.state_dict()
    _first_shape_mismatch(sd, target, source)
    missing = [k for k in target if k not in sd and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in sd if k not in target]
    if missing or unexpected:
        hint = ''
        if 'downsample1_1.encode_conv.weight' in sd:
            hint = (' It looks like a released SDT-V3 ImageNet file: convert it once with '
                    'tools/model_converters/sdtv3_to_mmsdt.py.')
        raise CheckpointError(
            f'{source} does not fit {type(model).__name__}: {len(missing)} missing key(s) '
            f'[{_short(missing, 5)}], {len(unexpected)} unexpected key(s) '
            f'[{_short(unexpected, 5)}].{hint}')
    model.load_state_dict({k: sd.get(k, v) for k, v in target.items()}, strict=True)
    log.info(f'Loaded all {len(target)} tensors of {type(model).__name__} from {source}')


def load_model_checkpoint(model: nn.Module, path: str,
                          logger: Optional[logging.Logger] = None) -> dict:
    """Load a whole-model checkpoint (detector, segmentor, classifier) strictly.

    What the tools and ``mmsdt.SafeRunner`` (``load_from``, ``--resume``) use instead of
    mmengine's loader, which only warns about missing, unexpected or resized keys and then
    evaluates a partly random model. The file is read with :func:`load_checkpoint_file` and
    checked as in :func:`load_model_state`; a released SDT-V3 file (backbone keys without
    ``backbone.``) is recognised and the converter named.

    Returns:
        dict: the checkpoint (e.g. its ``meta`` with the ``dataset_meta`` class names).
    """
    path = os.fspath(path)
    ckpt = load_checkpoint_file(path)
    load_model_state(model, ckpt, path, logger=logger)
    return ckpt


@dataclass
class LoadReport:
    """What :func:`load_backbone_checkpoint` did."""
    source: str
    loaded: List[str] = field(default_factory=list)
    missing_allowed: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)


def _short(keys: Sequence[str], n: int = 20) -> str:
    keys = list(keys)
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


def load_backbone_checkpoint(model: nn.Module,
                             path: str,
                             prefix: Optional[str] = None,
                             ignore_prefixes: Sequence[str] = ('head.', ),
                             logger: Optional[logging.Logger] = None) -> LoadReport:
    """Load a checkpoint into ``model`` strictly and report what happened.

    * every model parameter/buffer must be in the file, except BN ``num_batches_tracked``
      counters and ``layer_scale*`` parameters the released models do not have (kept at
      their init value and reported) -> otherwise :class:`CheckpointError` listing them;
    * a shape mismatch raises, naming the key and both shapes;
    * file keys the model lacks are ignored when under ``ignore_prefixes`` (the ImageNet
      ``head.*`` for a dense-prediction backbone) and reported as unexpected otherwise.
    """
    log = logger or logging.getLogger(__name__)
    path = os.fspath(path)
    sd = extract_backbone_state_dict(load_checkpoint_file(path), prefix, source=path)
    target = model.state_dict()
    report = LoadReport(source=path)

    _first_shape_mismatch(sd, target, path)
    missing = [k for k in target if k not in sd]
    report.missing_allowed = [
        k for k in missing if k.endswith('num_batches_tracked') or 'layer_scale' in k.split('.')[-1]
    ]
    hard_missing = [k for k in missing if k not in report.missing_allowed]
    if hard_missing:
        raise CheckpointError(f'{path}: {len(hard_missing)} {type(model).__name__} weight(s) '
                              f'missing from the checkpoint: {_short(hard_missing)}')
    for k in sd:
        if k in target:
            continue
        if any(k.startswith(p) for p in ignore_prefixes):
            report.ignored.append(k)
        else:
            report.unexpected.append(k)

    merged = {k: sd.get(k, v) for k, v in target.items()}
    model.load_state_dict(merged, strict=True)
    report.loaded = [k for k in target if k in sd]
    log.info(f'Loaded {len(report.loaded)}/{len(target)} tensors of {type(model).__name__} '
             f'from {path}')
    if report.ignored:
        log.info(f'Ignored {len(report.ignored)} key(s): {_short(report.ignored)}')
    if report.unexpected:
        log.warning(f'Unexpected key(s) in {path} not used by the model: '
                    f'{_short(report.unexpected)}')
    layer_scales = [k for k in report.missing_allowed if 'layer_scale' in k]
    if layer_scales:
        log.warning(f'{len(layer_scales)} layer-scale parameter(s) not in {path} keep their '
                    f'init value: {_short(layer_scales, 6)}')
    return report


def infer_arch(state_dict: Dict[str, torch.Tensor]) -> dict:
    """``dict(embed_dims=...)`` of an E-SpikeFormer state dict (from its downsample convs)."""
    try:
        dims = tuple(
            int(state_dict[f'{name}.encode_conv.weight'].shape[0])
            for name in ('downsample1_2', 'downsample2', 'downsample3', 'downsample4'))
    except KeyError as err:
        raise CheckpointError(f'not an E-SpikeFormer state dict: key {err} is missing') from err
    return dict(embed_dims=dims)
