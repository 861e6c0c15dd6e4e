"""Spike-masked autoencoder (SMA) pre-training as an mmpretrain self-supervised algorithm."""
from typing import Dict, List, Optional, Union

import torch
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample

from mmsdt.registry import MODELS

from .masking import mask_images, patch_grid, random_active_mask


@MODELS.register_module()
class SpikeMAE(BaseSelfSupervisor):
    """Spike-masked autoencoder pre-training of a spiking backbone (SDT-V3 SMA, reference §3.2).

    Per sample, ``mask_ratio`` of the ``patch_size`` pixel patches are masked
    (:func:`~mmsdt.models.selfsup.masking.random_active_mask`): their pixels are zeroed and the
    bool mask ``active`` (B, h, w) is passed to the backbone, ``backbone(x, active=active)``
    (e.g. :class:`mmsdt.ESpikeFormerLarge`, whose conv stages then run with sparse conv /
    sparse BN semantics so masked pixels never reach visible positions; its transformer blocks
    run on all tokens). The neck (:class:`SpikeMAEDecoder`) predicts every patch's pixels from
    the stride-``patch_size`` token map, and the head (:class:`SpikeMAEPretrainHead`) scores
    the masked patches only against per-patch normalised pixel targets.

    Args:
        backbone (dict): Backbone config; ``forward(x, active=None)`` returns a tuple whose
            last item is the (B, C, H / patch_size, W / patch_size) token map.
        neck (dict): Decoder config.
        head (dict): Reconstruction head config.
        mask_ratio (float): Fraction of masked patches (``int(N * (1 - ratio))`` stay
            visible). Defaults to 0.5.
        patch_size (int): Mask patch side in pixels. Defaults to 16.
        mask_seed (int, optional): Seed of the mask generator (a ``torch.Generator`` on the
            CPU); None draws from torch's global generator.
        data_preprocessor (dict, optional): Defaults to mmpretrain's
            ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, mask_ratio: float = 0.5,
                 patch_size: int = 16, mask_seed: Optional[int] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SelfSupDataPreprocessor')
        super().__init__(backbone=backbone, neck=neck, head=head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.mask_ratio = mask_ratio
        self.patch_size = patch_size
        self.generator = None
        if mask_seed is not None:
            self.generator = torch.Generator().manual_seed(mask_seed)

    @staticmethod
    def _images(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        """The image batch of ``inputs`` (a tensor, or a list holding one view)."""
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'SpikeMAE takes one view per image, got {len(inputs)}')
            inputs = inputs[0]
        return inputs

    def random_mask(self, images: torch.Tensor) -> torch.Tensor:
        """A new random mask (B, h, w) for ``images`` (True = visible)."""
        grid = patch_grid(images.shape, self.patch_size)
        return random_active_mask(images.shape[0], grid, self.mask_ratio, self.generator,
                                  images.device)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The backbone's token map of unmasked ``inputs``."""
        return self.backbone(self._images(inputs))[-1]

    def predict_patches(self, encoder_input: torch.Tensor,
                        active: torch.Tensor) -> torch.Tensor:
        """The decoder's patch predictions (B, N, p * p * C) for an encoder input and its mask
        (the encoder input is normally :func:`mask_images` of the images)."""
        tokens = self.backbone(encoder_input, active=active)[-1]
        return self.neck(tokens, active)

    def patch_losses(self, pred: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Per-patch mean squared error (B, N) against the head's targets (normalised per
        patch with ``norm_pix=True``): the terms whose masked mean is the loss."""
        target = self.head.construct_target(images)
        return (pred - target).pow(2).mean(dim=-1)

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """Mask, encode, decode and score the masked patches; labels are not used."""
        images = self._images(inputs)
        active = self.random_mask(images)
        pred = self.predict_patches(mask_images(images, active, self.patch_size), active)
        masked = (~active).flatten(1).to(pred.dtype)  # the head's convention: 1 = masked
        return dict(loss=self.head.loss(pred, images, masked))

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor,
                    active: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Reconstruct ``images`` (B, C, H, W) in the data preprocessor's normalised space.

        Returns:
            dict: ``active`` (B, h, w) (drawn when not given), ``masked`` (the encoder input),
            ``reconstruction`` (visible patches as given, masked ones predicted, each predicted
            patch mapped back from the per-patch normalised target space with the true
            patch's mean and variance, as the MAE pictures do) and ``prediction`` (all
            patches predicted, the same mapping).
        """
        if active is None:
            active = self.random_mask(images)
        grid = active.shape[1:]
        masked_input = mask_images(images, active, self.patch_size)
        pred = self.predict_patches(masked_input, active)
        patches = self.head.patchify(images)
        if self.head.norm_pix:
            mean = patches.mean(dim=-1, keepdim=True)
            var = patches.var(dim=-1, keepdim=True)
            pred = pred * (var + 1.e-6)**.5 + mean
        visible = active.flatten(1)[..., None]
        mixed = torch.where(visible, patches, pred)
        return dict(active=active, masked=masked_input,
                    reconstruction=self.head.unpatchify_grid(mixed, grid),
                    prediction=self.head.unpatchify_grid(pred, grid))
