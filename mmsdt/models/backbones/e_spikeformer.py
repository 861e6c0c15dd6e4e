"""E-SpikeFormer, the efficient spike-driven Transformer of SDT-V3 (TPAMI 2025)."""
import contextlib
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from mmsdt.registry import MODELS
from mmsdt.snn import NEURON_MODES, compact_spike_storage, fold_time, mean_over_time, time_steps
from ..precision import AutocastSwitch
from .e_spikeformer_blocks import SpikeConvBlock, SpikeDownsample, SpikeTransformerBlock
from .e_spikeformer_converter import load_backbone_checkpoint

# Module names of stage k (0..4); ``out_indices`` select stage outputs.
STAGE_LAYOUT = (
    ('downsample1_1', 'ConvBlock1_1'),
    ('downsample1_2', 'ConvBlock1_2'),
    ('downsample2', 'ConvBlock2_1', 'ConvBlock2_2'),
    ('downsample3', 'block3'),
    ('downsample4', 'block4'),
)


@MODELS.register_module()
class ESpikeFormer(AutocastSwitch, BaseModule):
    """E-SpikeFormer backbone of "Scaling Spike-driven Transformer with Efficient Spike
    Firing Approximation Training" (SDT-V3).

    Layout (reference §2.2): five stages, each a downsampling conv followed by blocks. A 7x7
    stride-2 stem conv on the analog image (no spike) starts stage 0; stages 0-2 hold spiking
    separable-conv blocks (strides 2, 4, 8), stage 3 six spiking transformer blocks at stride
    16 and stage 4 two more after a channel-changing downsample that keeps stride 16
    (``stage4_stride=2`` turns it into stride 32; the weights keep their shapes). Each conv of
    stride 2 maps a side ``L`` to ``ceil(L / 2)``, so an output of stride ``s`` has side
    ``ceil(L / s)``.

    Input: images ``(B, C, H, W)`` (no time axis), or frames with a time axis
    ``(B, T, C, H, W)`` (event cameras). Frames are folded T-major into ``(T * B, C, H, W)``
    for every conv, BN and attention product (BN statistics pool over T and B, as the
    paper's DVS model); only the neurons see T, which the backbone sets for the forward call
    (:func:`mmsdt.snn.time_steps`). Each returned feature map is averaged over T after the
    last neuron, so outputs are ``(B, C, H', W')`` either way and stock necks and heads work
    (a linear head on the T-mean gives the mean of per-frame logits).

    Stage outputs (``out_indices`` selects them): stage 0 ends after ``ConvBlock1_1`` (C0/2,
    stride 2), 1 after ``ConvBlock1_2`` (C0, stride 4), 2 after ``ConvBlock2_2`` (C1, stride
    8), 3 after ``block3`` (C2, stride 16), 4 after ``block4`` (C3, stride 16). Outputs are the
    real-valued residual streams; ``out_strides`` / ``out_channels`` list what is returned.

    Args:
        arch (str | dict): ``'2.7m'``, ``'5.1m'``, ``'10m'``, ``'19m'`` or a dict with
            ``embed_dims`` (4 ints) and optionally ``num_heads``, ``mlp_ratio``,
            ``depths`` (blocks per stage, default ``(1, 1, 2, 6, 2)``).
        in_channels (int): image channels.
        out_indices (Sequence[int] | int): stages whose outputs are returned, negative
            allowed. Default (1, 2, 3, 4).
        num_classes: not accepted (a TypeError): the backbone has no classifier. Classify
            with mmpretrain's ``ImageClassifier(backbone=mmsdt.ESpikeFormer,
            neck=GlobalAveragePooling, head=mmsdt.SpikeLinearClsHead)``, whose state dict
            ``tools/model_converters/sdtv3_to_mmsdt.py`` writes from a released file.
        frozen_stages (int): stages ``0 .. frozen_stages - 1`` are frozen (eval mode, no
            gradient); -1 or 0 freeze nothing.
        norm_eval (bool): keep every BN in eval mode during training.
        drop_path_rate (float): stochastic depth, linearly increasing over all 12 blocks.
        layer_scale_init_value (float, optional): per-channel learnable scale of the three
            branches of every transformer block, keys ``block*.N.layer_scale1/2/3`` (the
            upstream names; the paper's DVS model uses 1e-6). Off by default: the released
            ImageNet weights have none.
        stage4_stride (int): stride of ``downsample4``; 1 (paper, output stride 16) or 2.
        stem_stride (int): stride of the 7x7 stem conv; 2 (paper) or 1 for small images
            such as CIFAR's 32x32 (every stage stride halves: 1, 2, 4, 8, 8, so a 32x32
            image ends in a 4x4 map instead of 2x2). The weights keep their shapes.
        spike_cfg (dict): arguments of every :class:`~mmsdt.snn.MultiSpike`
            (default D=4, norm=4, half-to-even rounding).
        neuron_mode (str): ``'stateless'`` (default): every neuron is
            :class:`~mmsdt.snn.MultiSpike`, each time step independent (the paper's DVS
            behaviour); ``'stateful'``: :class:`~mmsdt.snn.MultiStepIntIF`, a multi-step
            integer IF / LIF whose membrane carries over the T steps of one forward call.
            Both are the same function without a time axis (or T = 1) and have no
            parameters, so state-dict keys are the same.
        neuron_cfg (dict, optional): the stateful neuron's own arguments: ``decay`` (beta,
            1 = IF), ``v_threshold`` (theta, 1) and ``detach_reset`` (True). Only with
            ``neuron_mode='stateful'``.
        zero_init_residual (bool): zero the weight of the last BN of every residual branch,
            so each block starts as the identity (as mmdet's ResNet option); for training
            from scratch (a toy shape-crop probe reached 84% instead of 61% val accuracy after
            200 steps). A pretrained checkpoint overwrites it. Default False.
        compact_spikes (bool): keep the spike tensors saved for backward as uint8 counts
            (:func:`~mmsdt.snn.compact_spike_storage`; exact gradients, about a third less
            training memory, ~10% slower on CPU). Default True; the toy configs turn it off.
        channels_last (bool): keep conv weights and activations in channels-last memory
            format (oneDNN's fast path on CPU: the same function, ~10-15 % faster training of
            19m on 2 AVX-512 cores; parameter names and shapes unchanged). Default True.
        autocast_dtype (str, optional): ``'bfloat16'`` runs the backbone under
            ``torch.autocast`` of the input's device with that dtype (CPU AMX / GPU tensor
            cores; :class:`mmsdt.models.precision.AutocastSwitch`, the one switch); spikes are
            exact in bf16 (multiples of 1/4), weights and potentials are not, so this is mixed
            precision like ``--amp``, not an exact mode. On CPU the depthwise 7x7 convs stay
            in float32 (oneDNN's bf16 depthwise kernel is slower). Outputs are float32.
            Default None (float32 throughout).
        with_cp (bool): gradient checkpointing of every block (mmpretrain's convention):
            activations inside a block are recomputed in backward instead of stored. Less
            memory, more time; BN running statistics are updated twice per step (as in
            mmpretrain / mmdet ``with_cp``). Default False.
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH[, prefix]
            [, stem_adapter='mean'])`` loads a released ImageNet file or an mmengine
            checkpoint strictly (see
            :func:`~mmsdt.models.backbones.e_spikeformer_converter.load_backbone_checkpoint`);
            ``stem_adapter='mean'`` loads a 3-channel (RGB) stem into a model of another
            ``in_channels`` (e.g. 2 for event frames,
            :func:`~mmsdt.models.backbones.e_spikeformer_converter.adapt_stem_channels`).

    Example:
        >>> model = ESpikeFormer('2.7m')
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 224, 224))]
        [(1, 24, 56, 56), (1, 48, 28, 28), (1, 96, 14, 14), (1, 128, 14, 14)]
        >>> model.out_strides
        (4, 8, 16, 16)
    """
    arch_settings: Dict[str, dict] = {
        '2.7m': dict(embed_dims=(24, 48, 96, 128)),
        '5.1m': dict(embed_dims=(32, 64, 128, 192)),
        '10m': dict(embed_dims=(48, 96, 192, 240)),
        '19m': dict(embed_dims=(64, 128, 256, 360)),
    }
    num_stages = len(STAGE_LAYOUT)

    def __init__(self,
                 arch: Union[str, dict] = '19m',
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = (1, 2, 3, 4),
                 num_classes: Optional[int] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 stage4_stride: int = 1,
                 stem_stride: int = 2,
                 spike_cfg: Optional[dict] = None,
                 neuron_mode: str = 'stateless',
                 neuron_cfg: Optional[dict] = None,
                 zero_init_residual: bool = False,
                 compact_spikes: bool = True,
                 channels_last: bool = True,
                 autocast_dtype: Optional[str] = None,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if num_classes is not None:
            raise TypeError(
                f'ESpikeFormer(num_classes={num_classes!r}): the backbone has no classifier '
                f"head; use mmpretrain's ImageClassifier with neck=dict(type="
                f"'GlobalAveragePooling') and head=dict(type='mmsdt.SpikeLinearClsHead', "
                f'num_classes=..., in_channels=C3) (a released file converts to it with '
                f'tools/model_converters/sdtv3_to_mmsdt.py)')
        arch = self._parse_arch(arch)
        C0, C1, C2, C3 = arch['embed_dims']
        depths = tuple(arch['depths'])
        heads, ratio = arch['num_heads'], arch['mlp_ratio']
        if stage4_stride not in (1, 2):
            raise ValueError(f'stage4_stride must be 1 or 2, got {stage4_stride!r}')
        if stem_stride not in (1, 2):
            raise ValueError(f'stem_stride must be 1 or 2, got {stem_stride!r}')
        spike_cfg = self._neuron_spike_cfg(spike_cfg, neuron_mode, neuron_cfg)
        self.neuron_mode = neuron_mode
        self.arch = arch
        self.embed_dims = (C0, C1, C2, C3)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.compact_spikes = compact_spikes
        self.channels_last = channels_last
        self.set_autocast_dtype(autocast_dtype)
        self.with_cp = with_cp
        dpr = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        dp = iter(dpr)

        def conv_blocks(dim, n):
            return nn.ModuleList(
                SpikeConvBlock(dim, ratio, next(dp), spike_cfg) for _ in range(n))

        def trans_blocks(dim, n):
            return nn.ModuleList(
                SpikeTransformerBlock(dim, heads, ratio, next(dp), layer_scale_init_value,
                                      spike_cfg) for _ in range(n))

        # Stage 0 (stride 2); the stem sees the analog image, so it has no spike.
        self.downsample1_1 = SpikeDownsample(in_channels, C0 // 2, 7, stem_stride, 3, True,
                                             spike_cfg)
        self.ConvBlock1_1 = conv_blocks(C0 // 2, depths[0])
        # Stage 1 (stride 4)
        self.downsample1_2 = SpikeDownsample(C0 // 2, C0, 3, 2, 1, spike_cfg=spike_cfg)
        self.ConvBlock1_2 = conv_blocks(C0, depths[1])
        # Stage 2 (stride 8); the released files name its two blocks ConvBlock2_1/2_2.
        self.downsample2 = SpikeDownsample(C0, C1, 3, 2, 1, spike_cfg=spike_cfg)
        stage2 = conv_blocks(C1, depths[2])
        self.ConvBlock2_1 = stage2[:(depths[2] + 1) // 2]
        self.ConvBlock2_2 = stage2[(depths[2] + 1) // 2:]
        # Stage 3 (stride 16)
        self.downsample3 = SpikeDownsample(C1, C2, 3, 2, 1, spike_cfg=spike_cfg)
        self.block3 = trans_blocks(C2, depths[3])
        # Stage 4 (stride 16 in the paper: channel change only)
        self.downsample4 = SpikeDownsample(C2, C3, 3, stage4_stride, 1, spike_cfg=spike_cfg)
        self.block4 = trans_blocks(C3, depths[4])

        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (SpikeConvBlock, SpikeTransformerBlock)):
                    for norm in module.residual_norms():
                        nn.init.zeros_(norm.weight)

        self.out_indices = self._parse_out_indices(out_indices)
        stage_strides = tuple(s * stem_stride // 2 for s in (2, 4, 8, 16, 16 * stage4_stride))
        self.num_layers = 1 + sum(depths)  # the stem and the blocks (get_layer_depth)
        stage_channels = (C0 // 2, C0, C1, C2, C3)
        self.out_strides: Tuple[int, ...] = tuple(stage_strides[i] for i in self.out_indices)
        self.out_channels: Tuple[int, ...] = tuple(stage_channels[i] for i in self.out_indices)
        if channels_last:
            self.to(memory_format=torch.channels_last)
        self._freeze_stages()

    # ------------------------------------------------------------------ construction helpers
    def _parse_arch(self, arch: Union[str, dict]) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_settings:
                raise ValueError(f'Unknown ESpikeFormer arch {arch!r}; valid names: '
                                 f'{sorted(self.arch_settings)} (or a dict with embed_dims)')
            arch = self.arch_settings[key]
        elif not isinstance(arch, dict):
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')
        if 'embed_dims' not in arch or len(arch['embed_dims']) != 4:
            raise ValueError(f'a custom arch needs embed_dims with 4 ints, got {arch!r}')
        unknown = set(arch) - {'embed_dims', 'num_heads', 'mlp_ratio', 'depths'}
        if unknown:
            raise ValueError(f'unknown keys in arch dict: {sorted(unknown)}')
        out = dict(num_heads=8, mlp_ratio=4, depths=(1, 1, 2, 6, 2))
        out.update(arch)
        if len(out['depths']) != 5 or min(out['depths']) < 1:
            raise ValueError(f'depths must be 5 positive ints, got {out["depths"]!r}')
        return out

    @staticmethod
    def _neuron_spike_cfg(spike_cfg: Optional[dict], neuron_mode: str,
                          neuron_cfg: Optional[dict]) -> dict:
        """The config of every backbone neuron (``mmsdt.snn.build_spike_neuron``)."""
        spike_cfg = dict(spike_cfg or {})
        if neuron_mode not in NEURON_MODES:
            raise ValueError(f'neuron_mode must be one of {NEURON_MODES}, got {neuron_mode!r}')
        if 'mode' in spike_cfg:
            raise ValueError("spike_cfg takes no 'mode'; use ESpikeFormer(neuron_mode=...)")
        if neuron_mode == 'stateless':
            if neuron_cfg:
                raise ValueError(f'neuron_cfg {neuron_cfg!r} applies only to '
                                 "neuron_mode='stateful'")
            return spike_cfg
        neuron_cfg = dict(neuron_cfg or {})
        unknown = sorted(set(neuron_cfg) - {'decay', 'v_threshold', 'detach_reset'})
        if unknown:
            raise ValueError(f'unknown neuron_cfg key(s) {unknown}; the stateful neuron takes '
                             "'decay', 'v_threshold', 'detach_reset'")
        return dict(spike_cfg, mode='stateful', **neuron_cfg)

    def _parse_out_indices(self, out_indices) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        result = []
        for i in out_indices:
            j = i + self.num_stages if i < 0 else i
            if not 0 <= j < self.num_stages:
                raise ValueError(f'out_indices entry {i} is outside 0..{self.num_stages - 1}')
            result.append(j)
        if sorted(set(result)) != result:
            raise ValueError(f'out_indices must be increasing and unique, got {out_indices!r}')
        return tuple(result)

    def stage_modules(self, index: int):
        """The modules of stage ``index`` (0..4)."""
        return [getattr(self, name) for name in STAGE_LAYOUT[index]]

    def _freeze_stages(self) -> None:
        for i in range(max(self.frozen_stages, 0)):
            for module in self.stage_modules(i):
                module.eval()
                for p in module.parameters():
                    p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise lr decay (mmpretrain's convention).

        The stem conv (``downsample1_1``) is layer 0, the blocks are layers 1..sum(depths) in
        forward order, and each later downsample belongs to the first block after it.
        Parameters outside ``prefix`` (neck, classifier head) are layer ``num_layers``; the
        number of layers returned is ``num_layers + 1`` (so with mmpretrain's
        ``LearningRateDecayOptimWrapperConstructor`` the head keeps the base lr and layer
        ``i`` gets ``rate ** (num_layers - i)``).

        Args:
            param_name (str): parameter name, e.g. ``'backbone.block3.0.attn.q_conv.0.weight'``.
            prefix (str): the backbone's prefix in ``param_name`` (``'backbone.'`` when
                called by mmpretrain's ``ImageClassifier.get_layer_depth``).

        Returns:
            tuple[int, int]: the layer id and the number of layer ids.
        """
        num_ids = self.num_layers + 1
        if not param_name.startswith(prefix):
            return self.num_layers, num_ids
        parts = param_name[len(prefix):].split('.')
        next_block = 1
        for stage in STAGE_LAYOUT:
            for name in stage:
                module = getattr(self, name)
                if isinstance(module, nn.ModuleList):
                    if parts[0] == name:
                        return next_block + int(parts[1]), num_ids
                    next_block += len(module)
                elif parts[0] == name:
                    return (0 if name == 'downsample1_1' else next_block), num_ids
        return self.num_layers, num_ids

    # ------------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', ...)`` strictly, else the default init."""
        if self.init_cfg is not None and self.init_cfg.get('type') == 'Pretrained':
            if not self.init_cfg.get('checkpoint'):
                raise ValueError("init_cfg type='Pretrained' needs a 'checkpoint' path")
            load_backbone_checkpoint(
                self, self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix'),
                logger=MMLogger.get_current_instance(),
                stem_adapter=self.init_cfg.get('stem_adapter'))
            self._is_init = True
            return
        super().init_weights()

    # ------------------------------------------------------------------ forward
    def forward_stages(self, x: torch.Tensor,
                       steps: Optional[int] = None) -> Tuple[torch.Tensor, ...]:
        """The outputs of the stages up to the last one in ``out_indices`` (strides 2, 4,
        8, 16, 16 or 32), for ``x`` of shape (N, C, H, W); with ``steps`` = T, ``x`` holds T
        time steps folded T-major (N = T * B) and the outputs stay folded. Sets T for the
        neurons itself."""
        with time_steps(steps):
            return self._forward_stages(x, steps)

    def _forward_stages(self, x: torch.Tensor, steps: Optional[int]) -> Tuple[torch.Tensor, ...]:
        outs = []
        recompute = self.with_cp and self.training and torch.is_grad_enabled()
        for stage in range(self.num_stages):
            for module in self.stage_modules(stage):
                if isinstance(module, nn.ModuleList):
                    for block in module:
                        if recompute and x.requires_grad:
                            # the recomputation may run in autograd's thread: set T there too
                            x = checkpoint(_run_with_time_steps, block, x, steps,
                                           use_reentrant=False)
                        else:
                            x = block(x)
                else:
                    x = module(x)
            outs.append(x)
            if stage == max(self.out_indices):
                break
        return tuple(outs)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Feature maps at ``out_indices`` (a tuple of (B, C, H', W')) of images
        (B, C, H, W) or of frames (B, T, C, H, W), averaged over T after the last neuron."""
        steps = None
        if x.dim() == 5:
            steps = x.shape[1]
            x = fold_time(x)
        elif x.dim() != 4:
            raise ValueError(f'ESpikeFormer takes images (B, C, H, W) or frames (B, T, C, H, '
                             f'W), got shape {tuple(x.shape)}')
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with contextlib.ExitStack() as stack:
            if self.compact_spikes:
                stack.enter_context(compact_spike_storage())
            stack.enter_context(self.autocast(x))
            outs = self.forward_stages(x, steps)
            outs = [outs[i] for i in self.out_indices]
            if steps is not None:
                outs = [mean_over_time(o, steps) for o in outs]
        return self.float32_outputs(outs)


def _run_with_time_steps(block: nn.Module, x: torch.Tensor, steps: Optional[int]):
    """``block(x)`` with T set for its neurons (a checkpointed block's forward)."""
    with time_steps(steps):
        return block(x)
