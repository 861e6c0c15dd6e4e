"""E-SpikeFormer's checkpoint knowledge: the released SDT-V3 key layout and its conversion.

The released ImageNet files (BICLab/Spike-Driven-Transformer-V3) are
``{'model': state_dict, 'args': argparse.Namespace, 'optimizer', 'epoch', 'scaler'}``; their
backbone keys are :class:`~mmsdt.models.ESpikeFormer`'s own (the module names follow them,
reference §2.4), the classifier is ``head.weight`` / ``head.bias`` (mmpretrain's
``ImageClassifier`` with :class:`~mmsdt.models.SpikeLinearClsHead` names it ``head.fc.*``),
and they hold no ``layer_scale*`` parameters. This module holds that knowledge (as mmdet's
``swin_converter`` does for Swin): strict backbone loading with the allowances the released
files need (:func:`load_backbone_checkpoint`), arch inference (:func:`infer_arch`), the
conversion to an mmengine checkpoint (:func:`convert_released_state_dict`) and, for demos and
tests, the writer of the released layout (:func:`save_released_format`). File reading and the
generic strict loader live in :mod:`mmsdt.utils.checkpoint`.
"""
import argparse
import logging
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.utils.checkpoint import (CheckpointError, extract_state_dict, first_shape_mismatch,
                                    load_checkpoint_file, register_checkpoint_hint, short_list)

RELEASED_HEAD_PREFIX = 'head.'  # the released classifier: head.weight / head.bias
CLASSIFIER_HEAD_PREFIX = 'head.fc.'  # mmpretrain ImageClassifier + mmsdt.SpikeLinearClsHead
BACKBONE_PREFIX = 'backbone.'
# the stage convs whose output channels are the arch's embed_dims
_EMBED_DIM_CONVS = ('downsample1_2', 'downsample2', 'downsample3', 'downsample4')
_RELEASED_MARKER = 'downsample1_1.encode_conv.weight'  # the stem conv, unprefixed
STEM_WEIGHT = _RELEASED_MARKER
STEM_ADAPTERS = ('mean', )


def _released_hint(state_dict: Mapping[str, torch.Tensor]) -> str:
    """The converter to name when a whole-model loader meets a released file."""
    if _RELEASED_MARKER in state_dict:
        return ('It looks like a released SDT-V3 ImageNet file: convert it once with '
                'tools/model_converters/sdtv3_to_mmsdt.py.')
    return ''


register_checkpoint_hint(_released_hint)


def extract_backbone_state_dict(ckpt: dict, prefix: Optional[str] = None,
                                source: str = '<checkpoint>') -> Dict[str, torch.Tensor]:
    """The backbone state dict inside a released, mmengine or bare checkpoint.

    The state dict is found as in :func:`mmsdt.utils.extract_state_dict`. With ``prefix``
    (e.g. ``'backbone.'``) only keys under it are kept, stripped. Without it, ``backbone.``
    is used when such keys exist (whole-model checkpoints).
    """
    sd = extract_state_dict(ckpt, source)
    if prefix is None and any(k.startswith(BACKBONE_PREFIX) for k in sd):
        prefix = BACKBONE_PREFIX
    if prefix:
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not sd:
            raise CheckpointError(f'{source}: no key starts with prefix {prefix!r}')
    return sd


@dataclass
class LoadReport:
    """What :func:`load_backbone_checkpoint` did: the keys loaded, the model keys allowed to
    be missing (BN counters, layer scales), the file keys ignored and the unexpected ones,
    and ``adapted``: keys whose tensor was adapted to the model (the stem of another number
    of input channels), with what was done."""
    source: str
    loaded: List[str] = field(default_factory=list)
    missing_allowed: List[str] = field(default_factory=list)
    ignored: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    adapted: Dict[str, str] = field(default_factory=dict)


def adapt_stem_channels(weight: torch.Tensor, in_channels: int, mode: str = 'mean',
                        source: str = '<checkpoint>') -> torch.Tensor:
    """The stem kernel ``(C_out, C_src, k, k)`` of a checkpoint (3 for ImageNet RGB) for a
    stem of ``in_channels`` inputs (2 for ON / OFF event frames).

    ``mode='mean'``: every new input channel gets the mean of the source kernels over their
    input channels, scaled by ``C_src / in_channels``::

        W_new[:, c] = (C_src / in_channels) * mean_j W[:, j]     for c = 0 .. in_channels - 1

    Why: event polarities have no colour correspondence, so no source channel is the right
    one for ON or OFF; what the RGB kernels share is their luminance (edge / blob) part,
    which the mean keeps. The scale keeps the stem's total gain, ``sum_c W_new[:, c] =
    sum_j W[:, j]``: an input equal in all channels gives the same response as a grey RGB
    image of that value, so the stem's BN statistics start in the range they were trained
    for (they are re-estimated in fine-tuning anyway). The bias is unchanged.

    Raises:
        mmsdt.utils.CheckpointError: ``weight`` is not 4-D, or an unknown ``mode``
            (naming ``source``).
    """
    if mode not in STEM_ADAPTERS:
        raise CheckpointError(f'{source}: unknown stem adapter {mode!r}; one of {STEM_ADAPTERS}')
    if weight.dim() != 4 or in_channels < 1:
        raise CheckpointError(f'{source}: cannot adapt a stem kernel of shape '
                              f'{tuple(weight.shape)} to {in_channels} input channels')
    mean = weight.mean(1, keepdim=True) * (weight.shape[1] / in_channels)
    return mean.expand(-1, in_channels, -1, -1).contiguous()


def _allowed_missing(key: str) -> bool:
    """BN ``num_batches_tracked`` counters and the ``layer_scale*`` parameters that the
    released models do not have."""
    return key.endswith('num_batches_tracked') or 'layer_scale' in key.split('.')[-1]


def load_backbone_checkpoint(model: nn.Module,
                             path: str,
                             prefix: Optional[str] = None,
                             ignore_prefixes: Sequence[str] = (RELEASED_HEAD_PREFIX, ),
                             logger: Optional[logging.Logger] = None,
                             stem_adapter: Optional[str] = None) -> LoadReport:
    """Load a released, mmengine or bare checkpoint into an E-SpikeFormer strictly and report.

    ``stem_adapter='mean'`` loads a checkpoint whose stem has another number of input channels
    (an ImageNet file, 3, into a 2-channel event-frame model) through
    :func:`adapt_stem_channels`; only the stem kernel's input-channel dimension may differ,
    every other key is loaded strictly as below, and the adaptation is reported
    (``LoadReport.adapted``) and logged. Without it such a file is a shape-mismatch error.

    * every model parameter/buffer must be in the file, except BN ``num_batches_tracked``
      counters and ``layer_scale*`` parameters the released models do not have (kept at
      their init value and reported) -> otherwise :class:`~mmsdt.utils.CheckpointError`
      listing them;
    * a shape mismatch raises, naming the key and both shapes;
    * file keys the model lacks are ignored when under ``ignore_prefixes`` (the ImageNet
      ``head.*`` for a dense-prediction backbone) and reported as unexpected otherwise.
    """
    log = logger or logging.getLogger(__name__)
    path = os.fspath(path)
    sd = extract_backbone_state_dict(load_checkpoint_file(path), prefix, source=path)
    target = model.state_dict()
    report = LoadReport(source=path)
    if STEM_WEIGHT in sd and STEM_WEIGHT in target:
        src, dst = sd[STEM_WEIGHT], target[STEM_WEIGHT]
        if src.shape != dst.shape and src.dim() == dst.dim() == 4 and \
                (src.shape[0], *src.shape[2:]) == (dst.shape[0], *dst.shape[2:]):
            if stem_adapter is None:
                raise CheckpointError(
                    f'{path}: {STEM_WEIGHT}: checkpoint {tuple(src.shape)} vs model '
                    f'{tuple(dst.shape)}: the stem has {src.shape[1]} input channels in the '
                    f"file and {dst.shape[1]} in the model; pass stem_adapter='mean' (init_cfg "
                    f"key) to adapt it (adapt_stem_channels)")
            sd = dict(sd)
            sd[STEM_WEIGHT] = adapt_stem_channels(src, dst.shape[1], stem_adapter, path)
            report.adapted[STEM_WEIGHT] = (
                f'{stem_adapter} of {src.shape[1]} input channels -> {dst.shape[1]} '
                f'(x{src.shape[1]}/{dst.shape[1]})')

    first_shape_mismatch(sd, target, path)
    missing = [k for k in target if k not in sd]
    report.missing_allowed = [k for k in missing if _allowed_missing(k)]
    hard_missing = [k for k in missing if k not in report.missing_allowed]
    if hard_missing:
        raise CheckpointError(f'{path}: {len(hard_missing)} {type(model).__name__} weight(s) '
                              f'missing from the checkpoint: {short_list(hard_missing)}')
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
        log.info(f'Ignored {len(report.ignored)} key(s): {short_list(report.ignored)}')
    if report.unexpected:
        log.warning(f'Unexpected key(s) in {path} not used by the model: '
                    f'{short_list(report.unexpected)}')
    for k, how in report.adapted.items():
        log.warning(f'{k} adapted from {path}: {how}')
    layer_scales = [k for k in report.missing_allowed if 'layer_scale' in k]
    if layer_scales:
        log.warning(f'{len(layer_scales)} layer-scale parameter(s) not in {path} keep their '
                    f'init value: {short_list(layer_scales, 6)}')
    return report


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """``dict(embed_dims=...)`` of an E-SpikeFormer state dict (from its downsample convs)."""
    try:
        dims = tuple(int(state_dict[f'{name}.encode_conv.weight'].shape[0])
                     for name in _EMBED_DIM_CONVS)
    except KeyError as err:
        raise CheckpointError(f'not an E-SpikeFormer state dict: key {err} is missing') from err
    return dict(embed_dims=dims)


def convert_released_state_dict(
        released: Mapping[str, torch.Tensor],
        source: str = '<checkpoint>') -> Tuple[Dict[str, torch.Tensor], dict]:
    """A released state dict as the state dict of mmpretrain's ``ImageClassifier(backbone=
    mmsdt.ESpikeFormer, neck=GlobalAveragePooling, head=mmsdt.SpikeLinearClsHead)``, and
    its arch.

    Backbone keys get ``backbone.``, ``head.weight`` / ``head.bias`` become ``head.fc.*``;
    tensors are shared, not copied. The backbone part is first loaded strictly into the
    matching :class:`~mmsdt.models.ESpikeFormer` (every weight present, every shape right).

    Raises:
        mmsdt.utils.CheckpointError: not an E-SpikeFormer state dict, or a key / shape that
            does not fit the inferred arch (naming ``source``).
    """
    arch = infer_arch(released)
    head = {k: v for k, v in released.items() if k.startswith(RELEASED_HEAD_PREFIX)}
    backbone_sd = {k: v for k, v in released.items() if not k.startswith(RELEASED_HEAD_PREFIX)}
    model = MODELS.build(dict(type='mmsdt.ESpikeFormer', arch=arch))  # registered by the backbone
    first_shape_mismatch(backbone_sd, model.state_dict(), source)
    try:
        model.load_state_dict(backbone_sd, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f'{source} does not fit ESpikeFormer{arch}: {err}') from err
    state_dict = {f'{BACKBONE_PREFIX}{k}': v for k, v in backbone_sd.items()}
    state_dict.update({f'{CLASSIFIER_HEAD_PREFIX}{k[len(RELEASED_HEAD_PREFIX):]}': v
                       for k, v in head.items()})
    return state_dict, arch


def released_state_dict(backbone: nn.Module,
                        head: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
    """The released key layout of an ESpikeFormer and, optionally, a
    :class:`~mmsdt.models.SpikeLinearClsHead` (its ``fc.*`` written as ``head.*``); tensors
    are copied."""
    sd = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    if head is not None:
        fc = getattr(head, 'fc', head)
        sd.update({f'{RELEASED_HEAD_PREFIX}{k}': v.detach().clone()
                   for k, v in fc.state_dict().items()})
    return sd


def save_released_format(weights: Union[nn.Module, Mapping[str, torch.Tensor]],
                         path: Union[str, os.PathLike], epoch: int = 199,
                         args: Optional[argparse.Namespace] = None) -> None:
    """Write weights in the layout of the released SDT-V3 ImageNet files.

    For demos and tests: the released files cannot be downloaded here, and a file written by
    this function takes exactly the loading path the real ones take.
    ``{'model': state_dict, 'optimizer': ..., 'epoch', 'scaler', 'args': Namespace}``; the
    ``args`` Namespace is what makes a stock ``torch.load`` (with ``weights_only=True``)
    refuse the file.

    Args:
        weights (nn.Module | dict): a backbone (its ``state_dict``) or a state dict in the
            released key layout (see :func:`released_state_dict` for backbone + head).
        path (str | os.PathLike): output file.
        epoch (int): value of the ``epoch`` entry.
        args (argparse.Namespace, optional): the ``args`` entry; by default a Namespace like
            the reference training script's.
    """
    if isinstance(weights, nn.Module):
        weights = released_state_dict(weights)
    sd = {k: v.detach().clone() for k, v in weights.items()}
    if args is None:
        args = argparse.Namespace(model='Efficient_Spiking_Transformer', input_size=224,
                                  batch_size=256, blr=6e-4, weight_decay=0.05, epochs=200,
                                  drop_path=0.1, output_dir='./output', eval=True)
    torch.save(
        dict(model=sd, optimizer=dict(state={}, param_groups=[dict(lr=1e-6, params=[])]),
             epoch=epoch, scaler=dict(scale=65536.0, growth_factor=2.0, backoff_factor=0.5,
                                      growth_interval=2000, _growth_tracker=0),
             args=args), os.fspath(path))
