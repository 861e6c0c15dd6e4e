"""The released large SDT-V3 files (83M / 171M, "1x4" / "1x8"): conversion and strict loading.

A released fine-tuning file holds the upstream ``Spikformer`` state dict under ``model`` (or
``model_ema``, or as a bare dict; keys may carry DDP's ``module.``). Its backbone keys are
:class:`~mmsdt.models.ESpikeFormerLarge`'s own, the classifiers are ``head.*`` and
``head_kd.*``. :func:`convert_released_large_state_dict` maps them to the keys of mmpretrain's
``ImageClassifier(backbone=mmsdt.ESpikeFormerLarge, neck=GlobalAveragePooling,
head=mmsdt.SpikeDistillClsHead)``: ``backbone.<key>``, ``head.head.*``, ``head.head_kd.*``.

D is not in the released files (upstream edits a module-global constant); their names say it
("171M_1x8", "83M_1x4", reference §3.1). :func:`detect_max_value` reads it from the name or
from a converted file's ``meta['max_value']``; a file that says nothing needs an explicit D.
Converted files record D in ``meta``; loading one into a model of another D is an error
naming both (:func:`load_large_backbone_checkpoint` for ``init_cfg``, and the strict
whole-model loader of ``load_from`` / the tools through :func:`check_large_checkpoint_meta`).
"""
import logging
import os
import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.utils.checkpoint import (CheckpointError, extract_state_dict, load_checkpoint_file,
                                    register_checkpoint_check, short_list)

LARGE_TYPE = 'mmsdt.ESpikeFormerLarge'  # registered by e_spikeformer_large, which imports this

BACKBONE_PREFIX = 'backbone.'
HEAD_KEYS = ('head.weight', 'head.bias', 'head_kd.weight', 'head_kd.bias')
# the stride-16 width C2 of each released size
SIZE_BY_WIDTH = {512: '83m', 768: '171m'}
WIDTH_KEY = 'downsample3.encode_conv.weight'
STEM_KEY = 'downsample1_1.encode_conv.weight'
_D_IN_NAME = re.compile(r'(?<![0-9])1\s*[x\u00d7]\s*([0-9]+)(?![0-9])', re.IGNORECASE)


def detect_max_value(source: str, meta: Optional[Mapping] = None) -> Optional[int]:
    """D of a checkpoint: ``meta['max_value']`` (a converted file), else the "1xD" of the
    file name (the released names: ``171M_1x4``, ``171M_1x8_384``, ``83M_1x8`` ...); None when
    neither says."""
    if meta and meta.get('max_value') is not None:
        return int(meta['max_value'])
    found = _D_IN_NAME.search(os.path.basename(os.fspath(source)))
    return int(found.group(1)) if found else None


def released_state_dict_of(ckpt: Mapping, source: str = '<checkpoint>'
                           ) -> Dict[str, torch.Tensor]:
    """The state dict of a released or mmengine file (:func:`mmsdt.utils.extract_state_dict`:
    ``state_dict``, ``model``, or the dict itself; tensors only, DDP's ``module.`` removed),
    or of its ``model_ema`` entry when the file has neither ``state_dict`` nor ``model``."""
    if not any(isinstance(ckpt.get(k), Mapping) for k in ('state_dict', 'model')) and \
            isinstance(ckpt.get('model_ema'), Mapping):
        ckpt = ckpt['model_ema']
    return extract_state_dict(ckpt, source)


def infer_large_arch(sd: Mapping[str, torch.Tensor], source: str = '<checkpoint>') -> str:
    """``'83m'`` or ``'171m'`` from the width of ``downsample3`` (512 or 768)."""
    if WIDTH_KEY not in sd:
        raise CheckpointError(f'{source}: not a large SDT-V3 state dict: {WIDTH_KEY} is missing')
    width = int(sd[WIDTH_KEY].shape[0])
    if width not in SIZE_BY_WIDTH:
        raise CheckpointError(f'{source}: {WIDTH_KEY} has shape {tuple(sd[WIDTH_KEY].shape)}; '
                              f'the large models have C2 = 512 (83M) or 768 (171M)')
    return SIZE_BY_WIDTH[width]


def expected_shapes(arch: str, num_classes: Optional[int] = None,
                    layer_scales: bool = True) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of the upstream state dict of ``arch`` (built on the meta device), with
    ``head.*`` / ``head_kd.*`` when ``num_classes`` is given."""
    with torch.device('meta'):
        model = MODELS.build(dict(type=LARGE_TYPE, arch=arch,
                                  layer_scale_init_value=1e-6 if layer_scales else None))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if num_classes is not None:
        width = model.embed_dims[-1]
        for name in ('head', 'head_kd'):
            shapes[f'{name}.weight'] = (num_classes, width)
            shapes[f'{name}.bias'] = (num_classes, )
    return shapes


def _pretrain_hint(sd: Mapping[str, torch.Tensor], want: Mapping[str, tuple]) -> str:
    if STEM_KEY in sd and sd[STEM_KEY].shape[0] == 96 and want.get(STEM_KEY, (0, ))[0] == 98:
        return (' The stem has 96 = 192 / 2 channels: this is the 171M pre-training encoder '
                'of upstream (C0 = 192), not the released fine-tuning width C0 = 196 '
                '(reference §3.3).')
    return ''


def check_state_dict(sd: Mapping[str, torch.Tensor], want: Mapping[str, tuple], source: str,
                     what: str, optional: Tuple[str, ...] = ('num_batches_tracked', )) -> None:
    """Raise :class:`CheckpointError` naming every missing key, every unexpected key and
    every wrong shape (with both shapes); keys ending in an entry of ``optional`` may be
    missing."""
    missing = [k for k in want if k not in sd and not k.endswith(optional)]
    unexpected = [k for k in sd if k not in want]
    wrong = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {want[k]}' for k in want
             if k in sd and tuple(sd[k].shape) != tuple(want[k])]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f'{len(wrong)} shape mismatch(es): {short_list(wrong, 40)}')
        if missing:
            parts.append(f'{len(missing)} missing key(s): {short_list(missing)}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected key(s): {short_list(unexpected)}')
        raise CheckpointError(f'{source} does not fit {what}: ' + '; '.join(parts) + '.'
                              + _pretrain_hint(sd, want))


def resolve_max_value(source: str, meta: Optional[Mapping], max_value: Optional[int]) -> int:
    """D from ``max_value`` and what the file says (:func:`detect_max_value`): both must
    agree; one of them must say."""
    found = detect_max_value(source, meta)
    if max_value is None and found is None:
        raise CheckpointError(
            f'{source}: the file does not say its D (max spike count): no "1x4" / "1x8" in its '
            f'name and no meta max_value (released files carry none). Pass it explicitly '
            f'(--max-value 4 or --max-value 8).')
    if max_value is not None and found is not None and int(max_value) != found:
        raise CheckpointError(f'{source}: the file says D = {found} but D = {max_value} was '
                              f'asked for')
    return int(found if max_value is None else max_value)


def convert_released_large_state_dict(
        sd: Mapping, source: str = '<checkpoint>', max_value: Optional[int] = None,
        arch: Optional[str] = None) -> Tuple[Dict[str, torch.Tensor], dict]:
    """A released large file (checkpoint dict or state dict) as the state dict of
    ``ImageClassifier(ESpikeFormerLarge, GlobalAveragePooling, SpikeDistillClsHead)``, and
    its meta (``arch``, ``max_value``, ``num_classes``, ``source``).

    The size is inferred from the shapes (``arch`` given: the file must be of that size);
    every key and shape is checked against it (missing / unexpected keys and every wrong
    shape named, with both shapes). D comes from ``max_value`` and the file
    (:func:`resolve_max_value`). Tensors are shared, not copied.

    Raises:
        mmsdt.utils.CheckpointError: the file does not fit, or D is unknown or contradicted.
    """
    meta = sd.get('meta') if isinstance(sd.get('meta'), Mapping) else None
    released = released_state_dict_of(sd, source)
    inferred = infer_large_arch(released, source)
    size = inferred if arch is None else str(arch).lower()
    if size != inferred:
        want = expected_shapes(size)[WIDTH_KEY]
        raise CheckpointError(f'{source} is a {inferred} file, not {size}: {WIDTH_KEY}: '
                              f'checkpoint {tuple(released[WIDTH_KEY].shape)} vs model {want}')
    if 'head.weight' not in released:
        raise CheckpointError(f'{source}: head.weight is missing (not a fine-tuned large '
                              f'SDT-V3 classifier)')
    num_classes = int(released['head.weight'].shape[0])
    check_state_dict(released, expected_shapes(size, num_classes), source,
                     f'ESpikeFormerLarge {size!r} + head / head_kd ({num_classes} classes)')
    d = resolve_max_value(source, meta, max_value)
    out = {}
    for k, v in released.items():
        out[f'head.{k}' if k in HEAD_KEYS else f'{BACKBONE_PREFIX}{k}'] = v
    return out, dict(arch=size, max_value=d, num_classes=num_classes,
                     source=os.path.basename(os.fspath(source)))


def _d_mismatch(source: str, file_d: int, model_d: int) -> CheckpointError:
    return CheckpointError(
        f'{source} was trained with D = {file_d} (max spike count) but the model has '
        f'max_value = {model_d}: set max_value={file_d} in the backbone (and head) config')


def config_max_values(cfg_text: str) -> List[int]:
    """The ``max_value`` of every ``ESpikeFormerLarge`` backbone in a config's text (what
    mmengine's runner stores as ``meta['cfg']``); empty when the text does not parse."""
    try:
        cfg = Config.fromstring(cfg_text, '.py')
    except Exception:  # not a config we can read: it says nothing about D
        return []
    found = []

    def walk(node):
        if isinstance(node, Mapping):
            if str(node.get('type', '')).split('.')[-1] == 'ESpikeFormerLarge':
                found.append(int(node.get('max_value', 4)))
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(cfg.to_dict())
    return found


def check_large_checkpoint_meta(model: nn.Module, ckpt: Mapping, source: str) -> None:
    """The check the strict whole-model loader runs (``load_from``, tools): a checkpoint whose
    ``meta`` (``max_value``, or the training config of a runner checkpoint) or name gives D
    must match every :class:`~mmsdt.models.ESpikeFormerLarge` in ``model``; a checkpoint that
    does not say is loaded with a warning saying so."""
    large_cls = MODELS.get(LARGE_TYPE)
    larges = [m for m in model.modules() if isinstance(m, large_cls)]
    if not larges:
        return
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), Mapping) else None
    file_d = detect_max_value(source, meta)
    if file_d is None and meta and isinstance(meta.get('cfg'), str):
        values = set(config_max_values(meta['cfg']))
        file_d = values.pop() if len(values) == 1 else None
    for m in larges:
        if file_d is None:
            MMLogger.get_current_instance().warning(
                f'{source} does not say its D (no meta max_value, no training config, no '
                f'"1x4" / "1x8" in its name): loading it with the model\'s max_value = '
                f'{m.max_value}')
        elif file_d != m.max_value:
            raise _d_mismatch(source, file_d, m.max_value)


register_checkpoint_check(check_large_checkpoint_meta)


def load_large_backbone_checkpoint(model: nn.Module, path: str,
                                   prefix: Optional[str] = None,
                                   logger: Optional[logging.Logger] = None) -> List[str]:
    """Load the backbone weights of a converted, mmengine or released file strictly.

    The backbone keys are those under ``prefix`` (default ``'backbone.'`` when the file has
    such keys, else the bare upstream names, whose ``head.*`` / ``head_kd.*`` are skipped).
    Every model key must be there (BN counters aside; ``layer_scale*`` only when the file
    has none, as a pre-training encoder's, and then logged), no other backbone key may be,
    every shape must match (all mismatches named with both shapes), and D must match what
    the file says (meta or name); a released file that does not say D is refused.
    Returns the keys loaded.
    """
    log = logger or logging.getLogger(__name__)
    path = os.fspath(path)
    ckpt = load_checkpoint_file(path)
    meta = ckpt.get('meta') if isinstance(ckpt.get('meta'), Mapping) else None
    sd = released_state_dict_of(ckpt, path)
    released = STEM_KEY in sd
    if prefix is None:
        prefix = BACKBONE_PREFIX if any(k.startswith(BACKBONE_PREFIX) for k in sd) else ''
    sd = {k[len(prefix):]: v for k, v in sd.items()
          if k.startswith(prefix) and not (prefix == '' and k in HEAD_KEYS)}
    if not sd:
        raise CheckpointError(f'{path}: no key starts with prefix {prefix!r}')
    file_d = detect_max_value(path, meta)
    if file_d is None and released:
        raise CheckpointError(
            f'{path}: a released large SDT-V3 file that does not say its D (no "1x4" / "1x8" '
            f'in its name): convert it with tools/model_converters/sdtv3_large_to_mmsdt.py '
            f'--max-value D')
    if file_d is not None and file_d != model.max_value:
        raise _d_mismatch(path, file_d, model.max_value)
    target = model.state_dict()
    optional = ('num_batches_tracked', )
    no_scales = not any('layer_scale' in k for k in sd)
    if no_scales:
        optional += ('layer_scale1', 'layer_scale2')
    check_state_dict(sd, {k: tuple(v.shape) for k, v in target.items()}, path,
                     f'ESpikeFormerLarge(embed_dims={model.embed_dims}, '
                     f'rep_conv2={model.arch["rep_conv2"]})', optional)
    model.load_state_dict({k: sd.get(k, v) for k, v in target.items()}, strict=True)
    loaded = [k for k in target if k in sd]
    log.info(f'Loaded {len(loaded)}/{len(target)} tensors of ESpikeFormerLarge from {path}')
    scales = [k for k in target if 'layer_scale' in k and k not in sd]
    if scales:
        log.warning(f'{len(scales)} layer-scale parameter(s) not in {path} (a pre-training '
                    f'encoder) keep their init value')
    return loaded
