"""From an SMA pre-training checkpoint to the fine-tuning backbone, strictly.

The pre-training encoder (``SpikeMAE.backbone``: ``ESpikeFormerLarge`` with
``layer_scale_init_value=None``) has the fine-tuning backbone's parameters except the layer
scales (``block3.<i>.layer_scale1`` / ``layer_scale2``). :func:`sma_backbone_state_dict`
takes the ``backbone.*`` entries of a pre-training state dict, checks every key and shape
against the fine-tuning backbone and adds the layer scales explicitly from the backbone's own
initialisation (``layer_scale_init_value``); the decoder (``neck.*``) and ``head.*`` entries
are dropped. Anything else that does not fit is an error naming the key and both shapes.
"""
import re
from typing import Dict, List, Mapping, Tuple

import torch
from torch import nn

from mmsdt.utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file

# parameters the fine-tuning backbone has and the SMA encoder has not
LAYER_SCALE_KEY = re.compile(r'^block3\.\d+\.layer_scale[12]$')
PRETRAIN_PREFIXES = ('backbone.', 'neck.', 'head.', 'data_preprocessor.')


def sma_backbone_state_dict(state_dict: Mapping[str, torch.Tensor], backbone: nn.Module,
                            source: str = '<checkpoint>'
                            ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The fine-tuning backbone's state dict from an SMA pre-training state dict.

    Args:
        state_dict: The pre-training model's state dict (``backbone.*``, ``neck.*``,
            ``head.*`` keys, as ``SpikeMAE`` saves it).
        backbone: The fine-tuning backbone (built with layer scales); its layer-scale values
            are the ones added.
        source: The file name used in errors.

    Returns:
        (state dict for ``backbone.load_state_dict(..., strict=True)``, the added keys).

    Raises:
        CheckpointError: no ``backbone.*`` entry, a key outside the known prefixes, a
            backbone key the fine-tuning backbone lacks, a missing key other than a layer
            scale, or a shape mismatch (naming the key and both shapes, e.g. a pre-training
            checkpoint of another size).
    """
    foreign = [k for k in state_dict if not k.startswith(PRETRAIN_PREFIXES)]
    if foreign:
        raise CheckpointError(f'{source} is not an SMA pre-training checkpoint: keys outside '
                              f'{PRETRAIN_PREFIXES}, e.g. {", ".join(foreign[:5])}')
    encoder = {k[len('backbone.'):]: v for k, v in state_dict.items()
               if k.startswith('backbone.')}
    if not encoder:
        raise CheckpointError(f'{source} holds no backbone.* entries (an SMA pre-training '
                              'checkpoint is expected)')
    target = backbone.state_dict()
    unexpected = sorted(set(encoder) - set(target))
    if unexpected:
        raise CheckpointError(f'{source}: {len(unexpected)} backbone keys the fine-tuning '
                              f'backbone does not have: {", ".join(unexpected[:10])}')
    for key, value in encoder.items():
        if tuple(value.shape) != tuple(target[key].shape):
            raise CheckpointError(
                f'{source}: backbone.{key} has shape {tuple(value.shape)} in the pre-training '
                f'checkpoint but {tuple(target[key].shape)} in the fine-tuning backbone (a '
                'pre-training checkpoint of another size or D?)')
    missing = sorted(set(target) - set(encoder))
    not_scales = [k for k in missing if not LAYER_SCALE_KEY.match(k)]
    if not_scales:
        raise CheckpointError(f'{source}: {len(not_scales)} fine-tuning backbone keys missing '
                              f'from the pre-training checkpoint: {", ".join(not_scales[:10])}')
    converted = dict(encoder)
    for key in missing:  # the layer scales, from the fine-tuning backbone's initialisation
        converted[key] = target[key].detach().clone()
    return converted, missing


def load_sma_pretrained(backbone: nn.Module, path: str, logger=None) -> List[str]:
    """Load the encoder of the SMA pre-training checkpoint ``path`` into the fine-tuning
    ``backbone`` strictly (:func:`sma_backbone_state_dict`); returns the added layer-scale
    keys, which are also logged."""
    state_dict = extract_state_dict(load_checkpoint_file(path), path)
    converted, added = sma_backbone_state_dict(state_dict, backbone, path)
    backbone.load_state_dict(converted, strict=True)
    message = (f'loaded the SMA encoder of {path}: {len(converted) - len(added)} tensors; '
               f'{len(added)} layer scales added from the backbone\'s initialisation')
    if logger is not None:
        logger.info(message)
    return added


def convert_sma_checkpoint(path: str, backbone: nn.Module, out: str) -> Dict[str, object]:
    """Write the fine-tuning backbone's weights from the SMA pre-training checkpoint ``path``
    to ``out`` (:func:`sma_backbone_state_dict`), as ``backbone.<key>`` entries with
    ``meta.max_value`` (the backbone's D) and ``meta.sma_added_keys``, the layout that
    ``ESpikeFormerLarge(init_cfg=dict(type='Pretrained', checkpoint=out, prefix='backbone.'))``
    loads strictly. Returns the meta."""
    state_dict = extract_state_dict(load_checkpoint_file(path), path)
    converted, added = sma_backbone_state_dict(state_dict, backbone, path)
    meta = dict(max_value=getattr(backbone, 'max_value', None), sma_source=str(path),
                sma_added_keys=added)
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in converted.items()}, meta=meta),
               out)
    return meta
