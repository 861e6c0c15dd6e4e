"""Tiny SMA models shared by the SMA tests (fixtures)."""
import pytest
from mmengine.registry import DefaultScope

import mmsdt.models  # noqa: F401  (registers the backbone)
import mmsdt.models.selfsup  # noqa: F401  (registers SpikeMAE and its parts)
from mmsdt.registry import MODELS

TINY_ARCH = dict(embed_dims=(8, 16, 32), depth=2, num_heads=2, mlp_ratio=2, rep_conv2=True)


def _build(cfg):
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def _tiny_mae(use_mask_token=True, mask_seed=0, arch=TINY_ARCH):
    model = _build(dict(
        type='mmsdt.SpikeMAE',
        backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=arch, layer_scale_init_value=None),
        neck=dict(type='mmsdt.SpikeMAEDecoder', in_channels=arch['embed_dims'][-1],
                  embed_dims=16, depth=1, num_heads=2, mlp_ratio=2,
                  use_mask_token=use_mask_token),
        head=dict(type='mmsdt.SpikeMAEPretrainHead', norm_pix=True, patch_size=16,
                  loss=dict(type='PixelReconstructionLoss', criterion='L2')),
        mask_ratio=0.5, mask_seed=mask_seed))
    model.init_weights()
    return model


def _finetune_backbone(arch=TINY_ARCH, layer_scale=1e-6, **kwargs):
    return _build(dict(type='mmsdt.ESpikeFormerLarge', arch=arch,
                       layer_scale_init_value=layer_scale, **kwargs))


@pytest.fixture
def tiny_arch():
    """The tiny ESpikeFormerLarge arch of these tests (2 blocks, widths 8 / 16 / 32)."""
    return dict(TINY_ARCH)


@pytest.fixture
def tiny_mae():
    """Builds a tiny SpikeMAE: ``tiny_mae(use_mask_token=True, mask_seed=0, arch=...)``."""
    return _tiny_mae


@pytest.fixture
def finetune_backbone():
    """Builds the fine-tuning ESpikeFormerLarge: ``finetune_backbone(arch, layer_scale)``."""
    return _finetune_backbone
