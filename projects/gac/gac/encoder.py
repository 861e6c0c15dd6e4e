"""The Gated Attention Coding encoder (Qiu et al., AAAI 2024), time-first layout."""
from typing import Optional, Union

import torch
from mmengine.model import BaseModule
from torch import nn
from torch.nn import functional as F

from mmsdt.registry import MODELS
from .lif import build_lif

GATES = ('learned', 'none', 'constant')


def pad_same(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Zero padding that keeps H, W for a stride-1 conv of ``kernel_size`` (also even ones):
    left / top ``(k - 1) // 2``, right / bottom the rest (what ``padding='same'`` does)."""
    total = kernel_size - 1
    before = total // 2
    return F.pad(x, (before, total - before, before, total - before))


@MODELS.register_module()
class GatedAttentionEncoder(BaseModule):
    """Learnable input encoder: stem conv + BN shared over T, a LIF, and a gate from temporal
    (TA) and spatial-channel (SCA) attention: ``out = sigmoid(TA * SCA) * LIF(BN(conv(x)))``.

    Input ``[B, C, H, W]`` (a static image, repeated over ``time_steps``) or ``[T, B, C, H, W]``
    (event data, ``T == time_steps``); output ``[T, B, embed_dims, H', W']``. TA pools each
    step over (C, H, W) (mean and max), runs a shared MLP over the T axis
    (``T -> max(1, T // ta_reduction) -> T``, no bias, ReLU) and adds the two: one scalar per
    sample and step. SCA is ``conv k -> ReLU -> conv k`` (no bias, "same" padding done
    explicitly, shared over T). No sigmoid on either; one sigmoid after their product.

    Args:
        in_channels (int): image channels.
        embed_dims (int): stem channels C0.
        time_steps (int): T.
        stem_kernel_size, stem_stride, stem_padding (int): the stem conv (CIFAR 3/1/1,
            ImageNet 7/2/3); no bias; BN over T·B.
        neuron (str | dict): :class:`MultiStepLIF` preset name or arguments.
        ta_reduction (int): r of the TA MLP.
        sca_kernel_size (int): k of the SCA convs (official: 4).
        sca_reduction (int): channel reduction of the SCA hidden layer (official: 1).
        gate (str): ``'learned'`` (GAC), ``'none'`` (direct coding: ``BN(conv(x))`` repeated,
            real-valued, no LIF; the next block's LIF encodes, as the official baseline) or
            ``'constant'`` (``LIF(BN(conv(x)))``, gate 1; ablation).
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 64, time_steps: int = 4,
                 stem_kernel_size: int = 3, stem_stride: int = 1, stem_padding: int = 1,
                 neuron: Union[str, dict] = 'cifar', ta_reduction: int = 2,
                 sca_kernel_size: int = 4, sca_reduction: int = 1, gate: str = 'learned',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if gate not in GATES:
            raise ValueError(f'gate must be one of {GATES}, got {gate!r}')
        if int(time_steps) != time_steps or time_steps < 1:
            raise ValueError(f'time_steps must be a positive integer, got {time_steps!r}')
        self.time_steps = int(time_steps)
        self.gate_mode = gate
        self.sca_kernel_size = sca_kernel_size
        self.conv = nn.Conv2d(in_channels, embed_dims, stem_kernel_size, stem_stride,
                              stem_padding, bias=False)
        self.bn = nn.BatchNorm2d(embed_dims)
        if gate != 'none':
            self.lif = build_lif(neuron)
        if gate == 'learned':
            hidden = max(1, self.time_steps // ta_reduction)  # official T // 2 is 0 at T = 1
            self.ta_fc1 = nn.Linear(self.time_steps, hidden, bias=False)
            self.ta_fc2 = nn.Linear(hidden, self.time_steps, bias=False)
            sca_hidden = embed_dims // sca_reduction
            self.sca_conv1 = nn.Conv2d(embed_dims, sca_hidden, sca_kernel_size, bias=False)
            self.sca_conv2 = nn.Conv2d(sca_hidden, embed_dims, sca_kernel_size, bias=False)

    def current(self, x: torch.Tensor) -> torch.Tensor:
        """``BN(conv(x))`` as ``[T, B, C0, H', W']``. A static image is convolved once and
        expanded (the T copies are identical, so BN's batch statistics are the same)."""
        if x.dim() == 4:
            y = self.bn(self.conv(x))
            return y.unsqueeze(0).expand(self.time_steps, *y.shape)
        if x.dim() != 5:
            raise ValueError(f'GatedAttentionEncoder expects [B, C, H, W] or [T, B, C, H, W], '
                             f'got shape {tuple(x.shape)}')
        if x.shape[0] != self.time_steps:
            raise ValueError(f'input has T={x.shape[0]} time steps, the encoder was built for '
                             f'time_steps={self.time_steps}')
        y = self.bn(self.conv(x.flatten(0, 1)))
        return y.unflatten(0, x.shape[:2])

    def temporal_attention(self, current: torch.Tensor) -> torch.Tensor:
        """TA logits ``[T, B, 1, 1, 1]``."""
        flat = current.flatten(2)  # T, B, C*H*W
        pooled = torch.stack([flat.mean(2), flat.amax(2)])  # 2, T, B
        mlp = self.ta_fc2(F.relu(self.ta_fc1(pooled.transpose(1, 2))))  # 2, B, T
        return mlp.sum(0).t()[..., None, None, None]

    def spatial_channel_attention(self, current: torch.Tensor) -> torch.Tensor:
        """SCA logits ``[T, B, C, H, W]`` (computed once when the T steps are identical)."""
        k = self.sca_kernel_size
        static = current.stride(0) == 0  # expanded from one image
        x = current[:1] if static else current
        y = self.sca_conv2(pad_same(F.relu(self.sca_conv1(pad_same(x.flatten(0, 1), k))), k))
        y = y.unflatten(0, x.shape[:2])
        return y.expand_as(current) if static else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.current(x)
        if self.gate_mode == 'none':
            return current
        spikes = self.lif(current)
        if self.gate_mode == 'constant':
            return spikes
        return self._gate(current) * spikes

    def _gate(self, current: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.temporal_attention(current) *
                             self.spatial_channel_attention(current))

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The gate ``sigmoid(TA * SCA)`` for ``x`` (``gate='learned'`` only)."""
        if self.gate_mode != 'learned':
            raise ValueError(f"gate() needs gate='learned', this encoder has {self.gate_mode!r}")
        return self._gate(self.current(x))
