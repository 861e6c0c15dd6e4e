"""The large E-SpikeFormer of SDT-V3: the 83M / 171M models (reference §3.1)."""
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.utils.checkpoint import checkpoint

from mmsdt.registry import MODELS
from .e_spikeformer_large_blocks import (LargeConvBlock, LargeDownsample,
                                         LargeTransformerBlock, RepConv, mask_at)
from .e_spikeformer_large_converter import load_large_backbone_checkpoint

# The modules of the conv stages, in forward order (layer 0 of get_layer_depth).
CONV_STAGE_MODULES = ('downsample1_1', 'ConvBlock1_1', 'downsample1_2', 'ConvBlock1_2',
                      'downsample2', 'ConvBlock2_1', 'ConvBlock2_2', 'downsample3')
STRIDE = 16


@MODELS.register_module()
class ESpikeFormerLarge(BaseModule):
    """The large spike-driven Transformer of SDT-V3 (83M / 171M; upstream ``Spikformer`` of
    ``Model_Large``), a backbone for the spike-masked autoencoder and for classification.

    What differs from :class:`~mmsdt.models.ESpikeFormer` (the 2.7M-19M models): conv blocks
    are plain 3x3 conv MLPs (no separable conv), there is no stage 4; the 12 transformer
    blocks at stride 16 take q / k / v / proj through RepConvs (Conv1d + BN1d, twice), scale
    attention by a fixed 0.125, have per-channel layer scales and, for the 83M "base" choice,
    a leading RepConv2 branch; neurons round half-up with D as an explicit option; and the
    conv stages accept a SparK ``active`` mask (SMA pre-training). One output: the real-valued
    stride-16 map after the 12 blocks. Classify it with mmpretrain's ``GlobalAveragePooling``
    neck and :class:`~mmsdt.models.SpikeDistillClsHead` (``head`` + ``head_kd``).

    Args:
        arch (str | dict): ``'83m'`` (embed_dims (128, 256, 512), RepConv2) or ``'171m'``
            ((196, 384, 768), no RepConv2; the released fine-tune width), or a dict with
            ``embed_dims`` (C0, C1, C2) and optionally ``depth`` (12), ``num_heads`` (8),
            ``mlp_ratio`` (4), ``rep_conv2`` (False).
        in_channels (int): image channels.
        max_value (int): D, the largest integer spike count of every neuron (4 for the "1x4"
            files, 8 for "1x8").
        rounding (str): ``'half_up'`` (the large models', reference §1.1) or ``'half_even'``.
        drop_path_rate (float): stochastic depth, increasing linearly over the 12 blocks.
        layer_scale_init_value (float, optional): initial layer scale; None builds no
            ``layer_scale*`` parameters (the SMA encoder).
        with_cp (bool): gradient checkpointing of every transformer block in training.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH[, prefix])``
            loads a converted file (or a released one) strictly, checking D.

    Example:
        >>> model = ESpikeFormerLarge(dict(embed_dims=(16, 32, 64), depth=2))
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 96))]
        [(1, 64, 4, 6)]
    """
    arch_settings: Dict[str, dict] = {
        '83m': dict(embed_dims=(128, 256, 512), rep_conv2=True),
        '171m': dict(embed_dims=(196, 384, 768), rep_conv2=False),
    }

    def __init__(self,
                 arch: Union[str, dict] = '83m',
                 in_channels: int = 3,
                 max_value: int = 4,
                 rounding: str = 'half_up',
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = 1e-6,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        arch = self._parse_arch(arch)
        C0, C1, C2 = arch['embed_dims']
        depth, ratio = arch['depth'], arch['mlp_ratio']
        self.arch = arch
        self.embed_dims = (C0, C1, C2)
        self.max_value = int(max_value)
        self.rounding = rounding
        self.with_cp = with_cp
        neuron = dict(max_value=max_value, rounding=rounding)

        self.downsample1_1 = LargeDownsample(in_channels, C0 // 2, 7, 2, 3, True, **neuron)
        self.ConvBlock1_1 = nn.ModuleList([LargeConvBlock(C0 // 2, ratio, **neuron)])
        self.downsample1_2 = LargeDownsample(C0 // 2, C0, 3, 2, 1, **neuron)
        self.ConvBlock1_2 = nn.ModuleList([LargeConvBlock(C0, ratio, **neuron)])
        self.downsample2 = LargeDownsample(C0, C1, 3, 2, 1, **neuron)
        self.ConvBlock2_1 = nn.ModuleList([LargeConvBlock(C1, ratio, **neuron)])
        self.ConvBlock2_2 = nn.ModuleList([LargeConvBlock(C1, ratio, **neuron)])
        self.downsample3 = LargeDownsample(C1, C2, 3, 2, 1, **neuron)
        dpr = torch.linspace(0, drop_path_rate, depth, device='cpu').tolist()
        self.block3 = nn.ModuleList(
            LargeTransformerBlock(C2, arch['num_heads'], ratio, arch['rep_conv2'], dpr[i],
                                  layer_scale_init_value, **neuron) for i in range(depth))
        self.num_layers = depth + 1  # the conv stages (0) and the blocks (1..depth)
        self.out_channels = (C2, )
        self.out_strides = (STRIDE, )

    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_settings:
                raise ValueError(f'Unknown ESpikeFormerLarge arch {arch!r}; valid names: '
                                 f'{sorted(self.arch_settings)} (or a dict with embed_dims)')
            arch = self.arch_settings[key]
        elif not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')
        unknown = set(arch) - {'embed_dims', 'depth', 'num_heads', 'mlp_ratio', 'rep_conv2'}
        if unknown:
            raise ValueError(f'unknown keys in arch dict: {sorted(unknown)}')
        if 'embed_dims' not in arch or len(arch['embed_dims']) != 3:
            raise ValueError(f'arch needs embed_dims with 3 ints (C0, C1, C2), got {arch!r}')
        out = dict(depth=12, num_heads=8, mlp_ratio=4, rep_conv2=False)
        out.update(arch)
        out['embed_dims'] = tuple(int(c) for c in out['embed_dims'])
        if out['embed_dims'][0] % 2:
            raise ValueError(f'C0 must be even (the stem has C0 / 2 channels), got '
                             f'{out["embed_dims"]}')
        return out

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id for layer-wise lr decay (mmpretrain's convention): the conv stages are
        layer 0, ``block3.i`` is layer ``i + 1`` and everything else (outside ``prefix``:
        neck, head) is layer ``depth + 1``; returns ``(layer_id, depth + 2)``. With
        ``LearningRateDecayOptimWrapperConstructor`` the head keeps the base lr and the conv
        stages get the smallest scale.

        Args:
            param_name (str): e.g. ``'backbone.block3.0.attn.q_conv.1.weight'``.
            prefix (str): the backbone's prefix in ``param_name`` (``'backbone.'``).
        """
        last = self.num_layers
        num_ids = last + 1
        if not param_name.startswith(prefix):
            return last, num_ids
        parts = param_name[len(prefix):].split('.')
        if parts[0] in CONV_STAGE_MODULES:
            return 0, num_ids
        if parts[0] == 'block3' and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1]) + 1, num_ids
        return last, num_ids

    def fuse_rep_convs(self) -> int:
        """Merge every RepConv (two Conv1d + BN1d) into one spike-fed Conv1d
        (:meth:`~mmsdt.models.backbones.e_spikeformer_large_blocks.RepConv.fuse`): the same
        eval-mode function, spike-driven throughout the blocks. Deployment only (the state
        dict changes). Returns how many were merged."""
        reps = [m for m in self.modules() if isinstance(m, RepConv) and m.fused is None]
        for m in reps:
            m.fuse()
        return len(reps)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', ...)`` strictly (checking D), else the
        default init."""
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            if not self.init_cfg.get('checkpoint'):
                raise ValueError("init_cfg type='Pretrained' needs a 'checkpoint' path")
            load_large_backbone_checkpoint(self, self.init_cfg['checkpoint'],
                                           prefix=self.init_cfg.get('prefix'))
            self._is_init = True
            return
        super().init_weights()

    def _check_input(self, x: torch.Tensor, active: Optional[torch.Tensor]) -> None:
        if x.dim() != 4 or x.shape[-2] % STRIDE or x.shape[-1] % STRIDE or \
                min(x.shape[-2:]) == 0:
            raise ValueError(f'ESpikeFormerLarge takes images (B, C, H, W) with H and W '
                             f'multiples of {STRIDE}, got shape {tuple(x.shape)}')
        if active is not None:
            want = (x.shape[0], x.shape[-2] // STRIDE, x.shape[-1] // STRIDE)
            if tuple(active.shape) != want or active.dtype != torch.bool:
                raise ValueError(f'active must be a bool mask of shape {want} (B, H/16, W/16) '
                                 f'for input {tuple(x.shape)}, got {active.dtype} '
                                 f'{tuple(active.shape)}')

    def forward_conv_stages(self, x: torch.Tensor,
                            active: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The stride-16 map (B, C2, H/16, W/16) after the conv stages; with ``active``, the
        input is zeroed at masked patches and every conv / BN runs with SparK semantics."""
        if active is not None:
            x = x * mask_at(active, x)
        for name in CONV_STAGE_MODULES:
            module = getattr(self, name)
            for m in (module if isinstance(module, nn.ModuleList) else [module]):
                x = m(x, active)
        return x

    def forward(self, x: torch.Tensor, active: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor]:
        """The real-valued stride-16 token map ``(B, C2, H/16, W/16)`` after the 12
        transformer blocks, as a 1-tuple. ``active`` (B, H/16, W/16) bool: visible patches
        (True) for the conv stages; the blocks run on all tokens."""
        self._check_input(x, active)
        x = self.forward_conv_stages(x, active)
        B, C, H, W = x.shape
        x = x.flatten(2)
        recompute = self.with_cp and self.training and torch.is_grad_enabled()
        for block in self.block3:
            if recompute and x.requires_grad:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return (x.reshape(B, C, H, W), )
