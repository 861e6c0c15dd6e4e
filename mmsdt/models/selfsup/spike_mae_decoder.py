"""The (non-spiking) decoder neck of spike-masked autoencoder pre-training."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from mmpretrain.models.backbones.vision_transformer import TransformerEncoderLayer
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from torch import nn

from mmsdt.registry import MODELS


def sincos_positions(grid: Tuple[int, int], dims: int) -> torch.Tensor:
    """Fixed 2-D sin-cos position codes (1, h * w, dims) of a row-major (h, w) token grid.

    mmpretrain's ``build_2d_sincos_position_embedding`` enumerates its grid column-major, so
    it is given ``(w, h)``: the code of a token then depends only on its (row, column), the
    same in every grid size.
    """
    height, width = grid
    return build_2d_sincos_position_embedding((width, height), dims)


@MODELS.register_module()
class SpikeMAEDecoder(BaseModule):
    """Decoder of the spike-masked autoencoder (SMA), an ANN as upstream.

    The encoder's stride-16 token map (B, C, h, w) is normalised by a BatchNorm1d over
    channels (``norm``, upstream's last encoder layer), embedded by ``decoder_embed``
    (Linear C -> ``embed_dims``); the tokens of masked patches are replaced by one learned
    ``mask_token`` (with ``use_mask_token=True``; upstream keeps the encoder's tokens there
    and never uses its mask token), fixed 2-D sin-cos positions of the grid are added, and
    ``depth`` ViT blocks (mmpretrain's ``TransformerEncoderLayer``: no qkv bias, LayerNorm eps
    1e-6), ``decoder_norm`` and ``decoder_pred`` (Linear -> ``patch_size**2 * in_pixels``)
    give each token's patch pixels. Positions are computed per grid, so any input size works.

    Args:
        in_channels (int): Channels C of the encoder tokens.
        embed_dims (int): Decoder width. Defaults to 256.
        depth (int): ViT blocks. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 4.
        mlp_ratio (float): MLP hidden width / ``embed_dims``. Defaults to 4.
        patch_size (int): Pixels per patch side. Defaults to 16.
        in_pixels (int): Image channels. Defaults to 3.
        use_mask_token (bool): Replace masked tokens by the learned mask token.
            Defaults to True.
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self, in_channels: int, embed_dims: int = 256, depth: int = 4,
                 num_heads: int = 4, mlp_ratio: float = 4., patch_size: int = 16,
                 in_pixels: int = 3, use_mask_token: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % 4:
            raise ValueError(f'embed_dims must be a multiple of 4 (2-D sin-cos positions), '
                             f'got {embed_dims}')
        self.embed_dims = embed_dims
        self.patch_size = patch_size
        self.use_mask_token = use_mask_token
        self.norm = nn.BatchNorm1d(in_channels)
        self.decoder_embed = nn.Linear(in_channels, embed_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.decoder_blocks = nn.ModuleList([
            TransformerEncoderLayer(embed_dims, num_heads, int(mlp_ratio * embed_dims),
                                    qkv_bias=False, norm_cfg=dict(type='LN', eps=1e-6))
            for _ in range(depth)
        ])
        self.decoder_norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.decoder_pred = nn.Linear(embed_dims, patch_size**2 * in_pixels)

    def init_weights(self) -> None:
        """Xavier-uniform Linear weights with zero biases, unit LayerNorms, the mask token
        from N(0, 0.02) (the MAE initialisation)."""
        super().init_weights()
        if self.init_cfg is not None:
            return
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.mask_token, std=.02)

    def forward(self, tokens: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Predict the pixels of every patch.

        Args:
            tokens (Tensor): The encoder's token map (B, C, h, w).
            active (Tensor): bool (B, h, w), True = visible patch.

        Returns:
            Tensor: (B, h * w, patch_size**2 * in_pixels), row-major patches.
        """
        batch, channels, height, width = tokens.shape
        if active.shape != (batch, height, width):
            raise ValueError(f'active mask of shape {tuple(active.shape)} does not fit the '
                             f'token map of shape {tuple(tokens.shape)}')
        x = self.norm(tokens.flatten(2)).transpose(1, 2)  # (B, N, C)
        x = self.decoder_embed(x)
        if self.use_mask_token:
            visible = active.flatten(1)[..., None]
            x = torch.where(visible, x, self.mask_token.to(x.dtype))
        x = x + sincos_positions((height, width), self.embed_dims).to(x)
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))
