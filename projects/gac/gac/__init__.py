"""Gated Attention Coding (AAAI 2024) as an mmsdt project: multi-step LIF neurons, the GAC
encoder, MS-ResNet backbones and a time-averaging mmpretrain head, registered in mmsdt's
``MODELS`` (configs bring them in with ``custom_imports=dict(imports=['projects.gac.gac'])``).
"""
from .convert import (MODULE_MAP, config_target, convert_official_state_dict,
                      infer_official_variant, matching_configs, official_keys, variant_target)
from .encoder import GatedAttentionEncoder, pad_same
from .head import TimeAveragedClsHead
from .lif import LIF_PRESETS, MultiStepLIF, build_lif, surrogate_grad
from .ms_resnet import MSBasicBlock, MSResNet

__all__ = [
    'MultiStepLIF', 'LIF_PRESETS', 'build_lif', 'surrogate_grad', 'GatedAttentionEncoder',
    'pad_same', 'MSResNet', 'MSBasicBlock', 'TimeAveragedClsHead', 'MODULE_MAP',
    'convert_official_state_dict', 'infer_official_variant', 'official_keys', 'variant_target',
    'config_target', 'matching_configs'
]
