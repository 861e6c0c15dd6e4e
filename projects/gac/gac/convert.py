"""Key conversion for the official GAC encoder weights (bollossom/GAC)."""
from typing import Dict, Tuple

import torch

# official key (under ``encoding.``) -> ours (under the encoder); Conv3d [o, i, 1, 1, 1] of the
# TA MLP become Linear [o, i]
_ENCODER_KEYS = {
    'TA.sharedMLP.0.weight': 'ta_fc1.weight',
    'TA.sharedMLP.2.weight': 'ta_fc2.weight',
    'SCA.sharedMLP.0.weight': 'sca_conv1.weight',
    'SCA.sharedMLP.2.weight': 'sca_conv2.weight',
}


def convert_gac_encoder(state_dict: Dict[str, torch.Tensor], src_prefix: str = 'encoding.',
                        dst_prefix: str = 'backbone.encoder.'
                        ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
    """Convert the GAC attention weights of an official state dict.

    Returns ``(converted, rest)``: the four attention tensors under ``dst_prefix`` with our
    names and shapes, and every key this function does not convert (left for the caller, who
    must not drop them silently).

    Raises:
        ValueError: an attention key is missing or a TA weight is not ``[o, i, 1, 1, 1]``.
    """
    converted, rest = {}, {}
    for key, value in state_dict.items():
        name = key[len(src_prefix):] if key.startswith(src_prefix) else None
        if name not in _ENCODER_KEYS:
            rest[key] = value
            continue
        if name.startswith('TA.'):
            if value.dim() != 5 or tuple(value.shape[2:]) != (1, 1, 1):
                raise ValueError(f'{key}: expected a Conv3d weight [o, i, 1, 1, 1], got '
                                 f'{tuple(value.shape)}')
            value = value.flatten(1)
        converted[dst_prefix + _ENCODER_KEYS[name]] = value
    missing = [src_prefix + k for k in _ENCODER_KEYS if dst_prefix + _ENCODER_KEYS[k]
               not in converted]
    if missing:
        raise ValueError(f'official GAC keys not found: {missing}')
    return converted, rest
