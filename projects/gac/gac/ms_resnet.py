"""MS-ResNet (membrane-shortcut ResNet) backbones with multi-step LIF neurons, time first."""
from typing import Optional, Sequence, Union

import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.utils import CheckpointError, extract_state_dict, load_checkpoint_file, load_model_state
from .encoder import GatedAttentionEncoder
from .lif import build_lif


def _per_step(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    """Apply 2-D layers in turn to ``[T, B, C, H, W]`` by merging T into the batch."""
    y = x.flatten(0, 1)
    for layer in layers:
        y = layer(y)
    return y.unflatten(0, x.shape[:2])


class MSBasicBlock(nn.Module):
    """``out = BN(conv3x3(LIF(BN(conv3x3(LIF(x)))))) + shortcut(x)``; the shortcut is the
    identity, or a 1x1 conv + BN (fed by the real-valued stream) when stride or width change.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 neuron: Union[str, dict]):
        super().__init__()
        self.lif1 = build_lif(neuron)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.lif2 = build_lif(neuron)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _per_step(self.lif1(x), self.conv1, self.bn1)
        y = _per_step(self.lif2(y), self.conv2, self.bn2)
        shortcut = x if self.downsample is None else _per_step(x, self.downsample)
        return y + shortcut


@MODELS.register_module()
class MSResNet(BaseModule):
    """MS-ResNet backbone with a GAC (or direct-coding) encoder, for mmpretrain.

    Archs: ``'cifar18'`` (the GAC paper's CIFAR "MSResNet-18", ResNet-19 topology: 3x3 stem,
    64 channels, stages 128 / 256 / 512 with 3 / 3 / 2 blocks at strides 1 / 2 / 2),
    ``'imagenet18'`` / ``'imagenet34'`` (7x7 stride-2 stem, 64 channels, stages 64 / 128 / 256 /
    512 with 2-2-2-2 / 3-4-6-3 blocks, the first block of every stage at stride 2, no max-pool).
    A dict ``dict(stem='cifar'|'imagenet', widths=[...], depths=[...], strides=[...],
    stem_channels=C0)`` builds other widths (e.g. the narrow toy model).

    Returns ``(x, )`` with ``x`` the real-valued residual stream of the last stage,
    ``[T, B, C, H, W]`` (the head spikes, pools and averages over T).

    Args:
        arch (str | dict): see above.
        time_steps (int): T.
        neuron (str | dict): LIF preset or arguments for every neuron (encoder included).
        encoder (dict): :class:`GatedAttentionEncoder` arguments beyond the stem (e.g.
            ``gate='none'`` for direct coding, ``sca_kernel_size``).
        zero_init_residual (bool): zero the second BN of every block (the ImageNet code).
        bn_weight_init (float, optional): initial BN gamma (ImageNet code: 0.5).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH,
            prefix='backbone.')`` loads the backbone strictly (e.g. from a file of
            ``tools/model_converters/gac_to_mmsdt.py``); a missing, unexpected or resized key
            is an error naming it.
    """
    arch_settings = {
        'cifar18': dict(stem='cifar', stem_channels=64, widths=(128, 256, 512), depths=(3, 3, 2),
                        strides=(1, 2, 2)),
        'imagenet18': dict(stem='imagenet', stem_channels=64, widths=(64, 128, 256, 512),
                           depths=(2, 2, 2, 2), strides=(2, 2, 2, 2)),
        'imagenet34': dict(stem='imagenet', stem_channels=64, widths=(64, 128, 256, 512),
                           depths=(3, 4, 6, 3), strides=(2, 2, 2, 2)),
    }
    stems = {'cifar': dict(stem_kernel_size=3, stem_stride=1, stem_padding=1),
             'imagenet': dict(stem_kernel_size=7, stem_stride=2, stem_padding=3)}

    def __init__(self, arch: Union[str, dict] = 'cifar18', time_steps: int = 4,
                 neuron: Union[str, dict] = 'cifar', encoder: Optional[dict] = None,
                 zero_init_residual: bool = False, bn_weight_init: Optional[float] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise ValueError(f'unknown MSResNet arch {arch!r}; valid: '
                                 f'{sorted(self.arch_settings)} (or a dict)')
            arch = self.arch_settings[arch]
        arch = dict(arch)
        widths, depths, strides = arch['widths'], arch['depths'], arch['strides']
        if not len(widths) == len(depths) == len(strides):
            raise ValueError(f'widths, depths and strides must have the same length: {arch}')
        self.time_steps = time_steps
        enc = dict(self.stems[arch.get('stem', 'cifar')])
        enc.update(encoder or {})
        self.encoder = GatedAttentionEncoder(embed_dims=arch['stem_channels'],
                                             time_steps=time_steps, neuron=neuron, **enc)
        layers = []
        in_ch = arch['stem_channels']
        for width, depth, stride in zip(widths, depths, strides):
            blocks = [MSBasicBlock(in_ch, width, stride, neuron)]
            blocks += [MSBasicBlock(width, width, 1, neuron) for _ in range(depth - 1)]
            layers.append(nn.Sequential(*blocks))
            in_ch = width
        self.layers = nn.ModuleList(layers)
        self.out_channels = in_ch
        if bn_weight_init is not None:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, bn_weight_init)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, MSBasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', ...)`` strictly through mmsdt's safe
        reader, else the default initialisation."""
        cfg = self.init_cfg
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            super().init_weights()
            return
        path = cfg.get('checkpoint')
        if not path:
            raise ValueError("init_cfg type='Pretrained' needs a 'checkpoint' path")
        state_dict = extract_state_dict(load_checkpoint_file(path), source=path)
        prefix = cfg.get('prefix')
        if prefix:
            prefix = prefix if prefix.endswith('.') else prefix + '.'
            state_dict = {k[len(prefix):]: v for k, v in state_dict.items()
                          if k.startswith(prefix)}
            if not state_dict:
                raise CheckpointError(f'{path}: no key starts with the prefix {prefix!r}')
        load_model_state(self, dict(state_dict=state_dict), path,
                         logger=MMLogger.get_current_instance())
        self._is_init = True

    def forward(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        x = self.encoder(x)
        for layer in self.layers:
            x = layer(x)
        return (x, )
