"""Conversion of whole checkpoints of the official GAC code (bollossom/GAC) to mmsdt.

The official scripts save a bare state dict: ``CODE/CIFAR/main.py`` the model's own
(``parallel_model.module.state_dict()``), ``CODE/ImageNet/train_amp.py`` the
DistributedDataParallel wrapper's (every key under ``module.``; the safe reader drops that
prefix). The layout is that of the official code's HEAD (B-first CIFAR model, T-first ImageNet
model). The CIFAR model registers its modules twice (``conv1`` and ``conv1_s.layer.module``,
``bn1.bn`` and ``bn1.seqbn.module``, ...), so every tensor appears under several aliases, all
of which must be present and equal.

:data:`MODULE_MAP` is the one mapping table: an mmsdt module path (of an mmpretrain
``ImageClassifier`` with :class:`MSResNet` and :class:`TimeAveragedClsHead`) and the official
module paths that hold its tensors. The conversion is strict: an official key no entry claims,
an alias that is missing, aliases that differ, or a shape that differs from the model's is an
error naming the key (and both shapes).
"""
import glob
import os
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch

from mmsdt.utils import CheckpointError, register_checkpoint_hint

# {s}: our stage index (from 0), {S}: the official one, {b}: the block index in the stage
_ENCODER = (
    ('backbone.encoder.ta_fc1', ('encoding.TA.sharedMLP.0', )),
    ('backbone.encoder.ta_fc2', ('encoding.TA.sharedMLP.2', )),
    ('backbone.encoder.sca_conv1', ('encoding.SCA.sharedMLP.0', )),
    ('backbone.encoder.sca_conv2', ('encoding.SCA.sharedMLP.2', )),
)
_HEAD = (('head.fc', ('fc1', 'fc1_s.layer.module')), )


def _td_bn(path: str) -> Tuple[str, ...]:
    """The two names of a CIFAR ``tdBatchNorm`` (``bn`` and ``seqbn.module``)."""
    return (f'{path}.bn', f'{path}.seqbn.module')


_BLOCK = 'layer{S}.{b}'
MODULE_MAP: Dict[str, Tuple[Tuple[str, Tuple[str, ...]], ...]] = {
    # CODE/CIFAR/models/MS_ResNet.py: stages layer1..layer3, blocks BasicBlock_MS
    'cifar': (
        ('backbone.encoder.conv', ('conv1', 'conv1_s.layer.module')),
        ('backbone.encoder.bn', _td_bn('bn1') + _td_bn('conv1_s.bn')),
    ) + _ENCODER + tuple(
        (f'backbone.layers.{{s}}.{{b}}.conv{i}',
         (f'{_BLOCK}.conv{i}', f'{_BLOCK}.conv{i}_s.layer.module')) for i in (1, 2)
    ) + tuple(
        (f'backbone.layers.{{s}}.{{b}}.bn{i}',
         _td_bn(f'{_BLOCK}.bn{i}') + _td_bn(f'{_BLOCK}.conv{i}_s.bn')) for i in (1, 2)
    ) + (
        ('backbone.layers.{s}.{b}.downsample.0', (f'{_BLOCK}.downsample.layer.module', )),
        ('backbone.layers.{s}.{b}.downsample.1', _td_bn(f'{_BLOCK}.downsample.bn')),
    ) + _HEAD,
    # CODE/ImageNet/models/MS_ResNet.py: stages conv2_x..conv5_x, blocks BasicBlock_18
    'imagenet': (
        ('backbone.encoder.conv', ('conv1.0', )),
        ('backbone.encoder.bn', ('conv1.1.bn', )),
    ) + _ENCODER + (
        ('backbone.layers.{s}.{b}.conv1', ('conv{S}_x.{b}.conv1', )),
        ('backbone.layers.{s}.{b}.bn1', ('conv{S}_x.{b}.bn1.bn', )),
        ('backbone.layers.{s}.{b}.conv2', ('conv{S}_x.{b}.conv2', )),
        ('backbone.layers.{s}.{b}.bn2', ('conv{S}_x.{b}.bn2.bn', )),
        ('backbone.layers.{s}.{b}.downsample.0', ('conv{S}_x.{b}.shortcut.0', )),
        ('backbone.layers.{s}.{b}.downsample.1', ('conv{S}_x.{b}.shortcut.1.bn', )),
    ) + _HEAD,
}
STAGE_OFFSET = {'cifar': 1, 'imagenet': 2}  # official stage number of our stage 0
# official block keys: stage number, block index
_STAGE_KEY = {'cifar': re.compile(r'^layer(\d+)\.(\d+)\.'),
              'imagenet': re.compile(r'^conv(\d+)_x\.(\d+)\.')}
# MSResNet arch of each official stage layout (blocks per stage)
_ARCHS = {('cifar', (3, 3, 2)): 'cifar18', ('imagenet', (2, 2, 2, 2)): 'imagenet18',
          ('imagenet', (3, 4, 6, 3)): 'imagenet34'}
# TA MLP: official Conv3d [o, i, 1, 1, 1], ours Linear [o, i]
_CONV3D_TO_LINEAR = ('backbone.encoder.ta_fc1.weight', 'backbone.encoder.ta_fc2.weight')


def _short(keys: Sequence[str], n: int = 5) -> str:
    more = f' ... (+{len(keys) - n} more)' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more


_PATTERNS = {
    layout: [(re.compile('^' + re.escape(ours).replace(r'\{s\}', r'(?P<s>\d+)')
                         .replace(r'\{b\}', r'(?P<b>\d+)') + '$'), official)
             for ours, official in table]
    for layout, table in MODULE_MAP.items()
}


def official_keys(key: str, layout: str) -> Tuple[str, ...]:
    """The official keys (all aliases) that hold mmsdt key ``key`` in ``layout``
    (``'cifar'`` or ``'imagenet'``).

    Raises:
        CheckpointError: ``key`` has no counterpart in the official layout.
    """
    module, _, param = key.rpartition('.')
    for pattern, official in _PATTERNS[layout]:
        match = pattern.match(module)
        if match:
            fields = match.groupdict()
            if 's' in fields:
                fields['S'] = int(fields['s']) + STAGE_OFFSET[layout]
            return tuple(f'{name.format(**fields)}.{param}' for name in official)
    raise CheckpointError(f'model key {key} has no counterpart in the official GAC {layout} '
                          f'layout (not an MSResNet + TimeAveragedClsHead classifier?)')


def infer_official_variant(state_dict: Mapping[str, torch.Tensor],
                           source: str = '<state dict>') -> dict:
    """What an official state dict holds: ``layout`` (``'cifar'`` / ``'imagenet'``),
    MSResNet ``arch``, ``gate`` (``'learned'`` with ``encoding.*`` keys, else ``'none'``),
    ``time_steps`` (from the TA weights; ``None`` for direct coding, whose weights do not
    depend on T) and ``num_classes``.

    Raises:
        CheckpointError: the keys are of neither or both official layouts, or of a stage
            layout no official model has; the message names ``source``.
    """
    stages = {}
    for layout, pattern in _STAGE_KEY.items():
        blocks = {}
        for key in state_dict:
            match = pattern.match(key)
            if match:
                blocks.setdefault(int(match[1]), set()).add(int(match[2]))
        if blocks:
            stages[layout] = blocks
    if len(stages) != 1:
        found = 'both' if stages else 'neither'
        raise CheckpointError(
            f'{source}: not a state dict of the official GAC code (HEAD layout): it has '
            f'{found} of the CIFAR block keys (layer1.0.*) and the ImageNet block keys '
            f'(conv2_x.0.*); first keys: {_short(list(state_dict))}')
    layout, blocks = next(iter(stages.items()))
    first = STAGE_OFFSET[layout]
    numbers = sorted(blocks)
    depths = tuple(len(blocks[n]) for n in numbers)
    if numbers != list(range(first, first + len(numbers))) or any(
            blocks[n] != set(range(len(blocks[n]))) for n in numbers) or \
            (layout, depths) not in _ARCHS:
        known = [d for (lay, d) in _ARCHS if lay == layout]
        raise CheckpointError(
            f'{source}: official GAC {layout} keys with blocks per stage '
            f'{ {n: sorted(blocks[n]) for n in numbers} }; the official models have {known}')
    if 'fc1.weight' not in state_dict:
        raise CheckpointError(f'{source}: official GAC {layout} state dict without fc1.weight')
    ta = state_dict.get('encoding.TA.sharedMLP.0.weight')
    gate = 'learned' if any(k.startswith('encoding.') for k in state_dict) else 'none'
    if gate == 'learned' and (ta is None or ta.dim() != 5):
        raise CheckpointError(
            f'{source}: encoding.* keys without a Conv3d encoding.TA.sharedMLP.0.weight '
            f'[T // 2, T, 1, 1, 1] (got {None if ta is None else tuple(ta.shape)})')
    return dict(layout=layout, arch=_ARCHS[(layout, depths)], gate=gate,
                time_steps=int(ta.shape[1]) if gate == 'learned' else None,
                num_classes=int(state_dict['fc1.weight'].shape[0]))


def variant_target(variant: dict) -> Dict[str, torch.Tensor]:
    """The state dict (shapes and key order) of the mmpretrain ``ImageClassifier`` with
    :class:`MSResNet` and :class:`TimeAveragedClsHead` that ``variant`` describes (see
    :func:`infer_official_variant`; T 4 where the weights do not fix it)."""
    from .ms_resnet import MSResNet
    neuron = variant['layout']  # the LIF presets carry the layouts' names
    with torch.device('meta'):
        backbone = MSResNet(variant['arch'], time_steps=variant['time_steps'] or 4,
                            neuron=neuron, encoder=dict(gate=variant['gate']))
        fc = torch.nn.Linear(backbone.out_channels, variant['num_classes'])
    target = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    target.update({f'head.fc.{k}': v for k, v in fc.state_dict().items()})
    return target


def config_target(config: str) -> Dict[str, torch.Tensor]:
    """The state dict of the model a projects/gac config builds (its ``custom_imports`` and
    the mmpretrain scope)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        from mmpretrain.registry import MODELS
        model = MODELS.build(cfg.model)
    return model.state_dict()


def _official_tensor(key: str, aliases: Sequence[str], state_dict: Mapping[str, torch.Tensor],
                     source: str) -> torch.Tensor:
    value = state_dict[aliases[0]]
    for alias in aliases[1:]:
        other = state_dict[alias]
        if other.shape != value.shape or not torch.equal(other, value):
            raise CheckpointError(
                f'{source}: {aliases[0]} {tuple(value.shape)} and {alias} '
                f'{tuple(other.shape)} name the same official module but hold different values')
    if key in _CONV3D_TO_LINEAR:
        if value.dim() != 5 or tuple(value.shape[2:]) != (1, 1, 1):
            raise CheckpointError(f'{source}: {aliases[0]}: expected a Conv3d weight '
                                  f'[o, i, 1, 1, 1], got {tuple(value.shape)}')
        value = value.flatten(1)
    return value


def convert_official_state_dict(
        state_dict: Mapping[str, torch.Tensor],
        target: Optional[Mapping[str, torch.Tensor]] = None,
        source: str = '<state dict>') -> Tuple[Dict[str, torch.Tensor], dict]:
    """Convert a whole official GAC state dict to the keys of mmsdt's classifier.

    Args:
        state_dict: the official state dict (without a ``module.`` prefix).
        target: the state dict of the model to load into (e.g. :func:`config_target`);
            default: the model the file's keys describe (:func:`variant_target`).
        source: the file name for error messages.

    Returns:
        ``(converted, variant)``: every tensor under the target's keys (in its order) and
        :func:`infer_official_variant`'s description of the file.

    Raises:
        CheckpointError: unknown layout, official keys that are missing or that no target
            key claims, aliases that differ, or a shape that differs from the target's (both
            shapes named).
    """
    variant = infer_official_variant(state_dict, source)
    if target is None:
        target = variant_target(variant)
    layout = variant['layout']
    converted, claimed, missing = {}, set(), []
    for key, ref in target.items():
        aliases = official_keys(key, layout)
        claimed.update(aliases)
        absent = [a for a in aliases if a not in state_dict]
        if absent:
            missing += absent
            continue
        value = _official_tensor(key, aliases, state_dict, source)
        if value.shape != ref.shape:
            raise CheckpointError(
                f'{source}: {aliases[0]} has shape {tuple(value.shape)}, the model\'s {key} '
                f'{tuple(ref.shape)} (another depth, T or number of classes?)')
        converted[key] = value
    unexpected = [k for k in state_dict if k not in claimed]
    if missing or unexpected:
        raise CheckpointError(
            f'{source} does not fit the {variant["arch"]} model (gate={variant["gate"]!r}): '
            f'{len(missing)} missing official key(s) [{_short(missing)}], '
            f'{len(unexpected)} unexpected key(s) [{_short(unexpected)}]')
    return converted, variant


def matching_configs(variant: dict, config_dir: Optional[str] = None) -> list:
    """The projects/gac configs whose model a file of ``variant`` fits (any T for direct
    coding), by their names."""
    config_dir = config_dir or os.path.join(os.path.dirname(os.path.dirname(__file__)),
                                            'configs')
    depth = variant['arch'][-2:]
    prefix = 'gac-' if variant['gate'] == 'learned' else ''
    t = variant['time_steps'] or '*'
    data = (f'cifar{variant["num_classes"]}' if variant['layout'] == 'cifar' else 'in1k')
    return sorted(glob.glob(os.path.join(config_dir, f'{prefix}msresnet{depth}-t{t}_*_{data}.py')))


def _official_hint(state_dict: Mapping[str, torch.Tensor]) -> str:
    """Name the converter when the strict loader meets an official GAC file."""
    if 'fc1.weight' in state_dict and any(p.match(k) for k in state_dict
                                          for p in _STAGE_KEY.values()):
        return ('It looks like a file of the official GAC code: convert it with '
                '`python tools/model_converters/gac_to_mmsdt.py IN OUT`.')
    return ''


register_checkpoint_hint(_official_hint)
