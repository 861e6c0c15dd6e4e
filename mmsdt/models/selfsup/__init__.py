"""Spike-masked autoencoder (SMA) pre-training on mmpretrain's self-supervised framework:
the algorithm :class:`SpikeMAE`, the patch masking, the decoder neck, the reconstruction head
and the strict pre-training -> fine-tuning backbone loading."""
from .finetune_loading import (convert_sma_checkpoint, load_sma_pretrained,
                               sma_backbone_state_dict)
from .masking import mask_images, patch_grid, random_active_mask, upsample_mask
from .spike_mae import SpikeMAE
from .spike_mae_decoder import SpikeMAEDecoder, sincos_positions
from .spike_mae_head import SpikeMAEPretrainHead

__all__ = [
    'SpikeMAE', 'SpikeMAEDecoder', 'SpikeMAEPretrainHead', 'convert_sma_checkpoint',
    'load_sma_pretrained',
    'sma_backbone_state_dict', 'mask_images', 'patch_grid', 'random_active_mask',
    'upsample_mask', 'sincos_positions'
]
