"""Building blocks of E-SpikeFormer (SDT-V3).

Every residual adds real-valued tensors; spikes are taken at the start of each branch
("membrane shortcut"). Each spike consumer goes through :func:`mmsdt.snn.spike_linear` or
:func:`mmsdt.snn.spike_matmul`, so the blocks also run in spike-driven mode. Attribute names
follow the released checkpoints (reference §2.4) so their state dicts load key for key.
With a time axis every tensor here is the T-major fold ``(T * B, ...)``: convs, BN and
attention products treat T as batch; only the neurons see T.
"""
from typing import Optional

import torch
from timm.layers import DropPath
from torch import nn

from mmsdt.snn import MultiSpike, build_spike_neuron, spike_layout, spike_linear, spike_matmul
from mmsdt.snn.kernels import batch_norm
from ..precision import autocast_disabled, cpu_autocast_active


def _spike(spike_cfg: dict) -> MultiSpike:
    """The neuron of ``spike_cfg``: MultiSpike arguments, plus ``mode='stateful'`` and the
    stateful neuron's arguments for :class:`~mmsdt.snn.MultiStepIntIF`."""
    return build_spike_neuron(spike_cfg)


def _conv_bn(in_ch: int, out_ch: int, kernel: int = 1, padding: int = 0, groups: int = 1,
             bias: bool = False) -> nn.Sequential:
    """Conv2d + BN as a Sequential (checkpoint keys ``<name>.0.*`` / ``<name>.1.*``)."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=padding, groups=groups, bias=bias),
        nn.BatchNorm2d(out_ch))


class SpikeDownsample(nn.Module):
    """``[spike] -> Conv2d (bias) -> BN``; the spike is omitted for the stem (analog input).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: of the conv.
        first_layer (bool): no spike before the conv (the stem consumes the image).
        spike_cfg (dict): MultiSpike arguments.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, first_layer: bool = False, spike_cfg: Optional[dict] = None):
        super().__init__()
        self.encode_spike = None if first_layer else _spike(spike_cfg or {})
        self.encode_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        if self.encode_spike is not None:
            x = self.encode_spike(x)
        return batch_norm(spike_linear(self.encode_conv, x), self.encode_bn)


class SepConvSpike(nn.Module):
    """Inverted separable conv with a spike before each conv (MobileNetV2 style).

    ``S -> 1x1 (C->2C) + BN -> S -> depthwise kxk + BN -> S -> 1x1 (2C->C) + BN``.
    """

    def __init__(self, dim: int, kernel_size: int, padding: int, expansion: int = 2,
                 spike_cfg: Optional[dict] = None):
        super().__init__()
        spike_cfg = spike_cfg or {}
        hidden = dim * expansion
        self.spike1 = _spike(spike_cfg)
        self.pwconv1 = _conv_bn(dim, hidden)
        self.spike2 = _spike(spike_cfg)
        self.dwconv = _conv_bn(hidden, hidden, kernel_size, padding, groups=hidden)
        self.spike3 = _spike(spike_cfg)
        self.pwconv2 = _conv_bn(hidden, dim)

    def forward(self, x):
        h = spike_linear(self.pwconv1[0], self.spike1(x))
        # under CPU autocast the depthwise conv runs in float32: oneDNN's bf16 depthwise 7x7
        # kernels are about 2x slower
        fp32 = cpu_autocast_active(x)
        s = self.spike2.after_norm(h, self.pwconv1[1], dtype=torch.float32 if fp32 else None)
        with autocast_disabled(x, fp32):
            h = spike_linear(self.dwconv[0], s)
        h = spike_linear(self.pwconv2[0], self.spike3.after_norm(h, self.dwconv[1]))
        return batch_norm(h, self.pwconv2[1])


class SpikeConvBlock(nn.Module):
    """Conv-stage block: ``x + SepConv_k7(x)``, then ``x + conv3x3 MLP(x)`` (C -> 4C -> C).

    Args:
        dim (int): channels.
        mlp_ratio (int): expansion of the 3x3 conv MLP.
        drop_path (float): stochastic-depth rate of both residual branches.
        spike_cfg (dict): MultiSpike arguments.
    """

    def __init__(self, dim: int, mlp_ratio: int = 4, drop_path: float = 0.,
                 spike_cfg: Optional[dict] = None):
        super().__init__()
        spike_cfg = spike_cfg or {}
        hidden = dim * mlp_ratio
        self.Conv = SepConvSpike(dim, kernel_size=7, padding=3, spike_cfg=spike_cfg)
        self.spike1 = _spike(spike_cfg)
        self.conv1 = nn.Conv2d(dim, hidden, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(hidden)
        self.spike2 = _spike(spike_cfg)
        self.conv2 = nn.Conv2d(hidden, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def residual_norms(self):
        """The last BN of each residual branch (zeroed by ``zero_init_residual``)."""
        return [self.Conv.pwconv2[1], self.bn2]

    def forward(self, x):
        x = x + self.drop_path(self.Conv(x))
        y = spike_linear(self.conv1, self.spike1(x))
        y = batch_norm(spike_linear(self.conv2, self.spike2.after_norm(y, self.bn1)), self.bn2)
        return x + self.drop_path(y)


class SpikeMLP(nn.Module):
    """Token MLP on (B, C, H, W) maps viewed as (B, C, N): ``S -> Conv1d -> BN1d`` twice."""

    def __init__(self, dim: int, mlp_ratio: int = 4, spike_cfg: Optional[dict] = None):
        super().__init__()
        spike_cfg = spike_cfg or {}
        hidden = dim * mlp_ratio
        self.fc1_spike = _spike(spike_cfg)
        self.fc1_conv = nn.Conv1d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc2_spike = _spike(spike_cfg)
        self.fc2_conv = nn.Conv1d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm1d(dim)

    def forward(self, x):
        B, C, H, W = x.shape
        x = x.flatten(2)
        x = spike_linear(self.fc1_conv, self.fc1_spike(x))
        x = batch_norm(spike_linear(self.fc2_conv, self.fc2_spike.after_norm(x, self.fc1_bn)),
                       self.fc2_bn)
        return x.reshape(B, C, H, W)


class SpikeLinearAttention(nn.Module):
    """E-SDSA: spike-driven linear self-attention of SDT-V3.

    ``x = S(x)`` (``input_spike``, upstream's ``head_spike``); ``q, k = S(BN(conv1x1 C->C))``,
    ``v = S(BN(conv1x1 C->4C))``; per head ``out = scale * q (k^T v)`` with
    ``scale = 2 / sqrt(C / heads)`` (no softmax, no token normalisation);
    ``S(out) -> BN(conv1x1 4C->C)``. Evaluating ``k^T v`` first keeps memory
    linear in the number of tokens and equals the paper's ``(q k^T) v`` order (no softmax).

    Args:
        dim (int): channels C.
        num_heads (int): heads (C and 4C must be divisible by it).
        v_ratio (int): width of v relative to C (4 in all released models).
        spike_cfg (dict): MultiSpike arguments.
    """

    def __init__(self, dim: int, num_heads: int = 8, v_ratio: int = 4,
                 spike_cfg: Optional[dict] = None):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        spike_cfg = spike_cfg or {}
        self.num_heads = num_heads
        self.scale = 2 * (dim // num_heads)**-0.5
        self.input_spike = _spike(spike_cfg)
        self.q_conv = _conv_bn(dim, dim)
        self.q_spike = _spike(spike_cfg)
        self.k_conv = _conv_bn(dim, dim)
        self.k_spike = _spike(spike_cfg)
        self.v_conv = _conv_bn(dim, dim * v_ratio)
        self.v_spike = _spike(spike_cfg)
        self.attn_spike = _spike(spike_cfg)
        self.proj_conv = _conv_bn(dim * v_ratio, dim)

    def fold_spike_norms(self) -> int:
        """Fold the ``1 / norm`` of the q, k and v spikes into ``scale`` (deployment, see
        :func:`mmsdt.snn.fold_bn`); they then emit raw integer counts. Returns how many
        neurons were folded."""
        folded = 0
        for spike in (self.q_spike, self.k_spike, self.v_spike):
            if spike.norm != 1:
                self.scale = self.scale / spike.norm
                spike.norm = 1.0
                folded += 1
        return folded

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C', H, W) -> (B, heads, N, C'/heads); channel c belongs to head c // (C'/heads)."""
        B, C, H, W = x.shape
        return x.flatten(2).transpose(1, 2).reshape(B, H * W, self.num_heads,
                                                     C // self.num_heads).permute(0, 2, 1, 3)

    def forward(self, x):
        B, C, H, W = x.shape
        x = self.input_spike(x)
        q, k, v = (spike_layout(spike.after_norm(spike_linear(conv_bn[0], x), conv_bn[1]),
                                self._heads)
                   for spike, conv_bn in ((self.q_spike, self.q_conv), (self.k_spike, self.k_conv),
                                          (self.v_spike, self.v_conv)))
        k_t = spike_layout(k, lambda t: t.transpose(-2, -1))
        out = spike_matmul(q, spike_matmul(k_t, v)) * self.scale  # (B, heads, N, 4C/heads)
        out = out.permute(0, 2, 1, 3).reshape(B, H * W, -1).transpose(1, 2).reshape(B, -1, H, W)
        return batch_norm(spike_linear(self.proj_conv[0], self.attn_spike(out)), self.proj_conv[1])


class SpikeTransformerBlock(nn.Module):
    """Transformer-stage block: ``x + SepConv_k3(x)``, ``x + Attn(x)``, ``x + MLP(x)``.

    Args:
        dim (int): channels.
        num_heads (int): attention heads.
        mlp_ratio (int): MLP expansion.
        drop_path (float): stochastic-depth rate of the three residual branches.
        layer_scale_init_value (float, optional): if set, a learnable per-channel scale
            (``layer_scale1/2/3``) multiplies each branch. Off by default: the released
            ImageNet weights have none.
        spike_cfg (dict): MultiSpike arguments.
    """

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: int = 4, drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 spike_cfg: Optional[dict] = None):
        super().__init__()
        spike_cfg = spike_cfg or {}
        self.conv = SepConvSpike(dim, kernel_size=3, padding=1, spike_cfg=spike_cfg)
        self.attn = SpikeLinearAttention(dim, num_heads, spike_cfg=spike_cfg)
        self.mlp = SpikeMLP(dim, mlp_ratio, spike_cfg=spike_cfg)
        # Parameters named as in the upstream segmentation backbone (block.layer_scale1, ...).
        for i in (1, 2, 3):
            scale = None if layer_scale_init_value is None else nn.Parameter(
                torch.full((dim, ), float(layer_scale_init_value)))
            self.register_parameter(f'layer_scale{i}', scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def residual_norms(self):
        """The last BN of each residual branch (zeroed by ``zero_init_residual``)."""
        return [self.conv.pwconv2[1], self.attn.proj_conv[1], self.mlp.fc2_bn]

    @staticmethod
    def _scaled(branch: torch.Tensor, scale: Optional[torch.Tensor]) -> torch.Tensor:
        return branch if scale is None else branch * scale.view(1, -1, 1, 1)

    def forward(self, x):
        x = x + self.drop_path(self._scaled(self.conv(x), self.layer_scale1))
        x = x + self.drop_path(self._scaled(self.attn(x), self.layer_scale2))
        return x + self.drop_path(self._scaled(self.mlp(x), self.layer_scale3))
