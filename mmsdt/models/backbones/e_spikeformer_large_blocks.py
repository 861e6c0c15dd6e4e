"""Building blocks of the large E-SpikeFormer (the 83M / 171M models of SDT-V3, reference §3.1).

Conv stages: :class:`LargeDownsample` and :class:`LargeConvBlock` on (B, C, H, W) maps, with an
optional SparK-style ``active`` mask (spike-masked autoencoder pre-training): every conv output
is multiplied by the mask at its resolution and BN normalises the active positions only, so
masked pixels never reach an active position. Transformer stage: :class:`LargeTransformerBlock`
on token maps (B, C, N) with RepConv q/k/v/proj (Conv1d + BN1d, twice) and 1x1-conv MLPs.

Module and parameter names are the upstream ones, so a released state dict loads key for key.
Every spike consumer runs through :func:`mmsdt.snn.spike_linear` / :func:`mmsdt.snn.spike_matmul`.
The second conv of a RepConv consumes the first conv's BN output (no neuron between them):
unfused it is an analog layer, billed as MACs; :meth:`RepConv.fuse` merges the pair into one
spike-fed conv for deployment.
"""
import copy
from typing import Optional

import torch
import torch.nn.functional as F
from timm.layers import DropPath
from torch import nn

from mmsdt.snn import MultiSpike, spike_layout, spike_linear, spike_matmul
from mmsdt.snn.fold import fold_bn_into
from mmsdt.snn.kernels import batch_norm


def large_spike(max_value: int = 4, rounding: str = 'half_up', norm: Optional[float] = None
                ) -> MultiSpike:
    """The neuron of the large models: ``round(clamp(u, 0, D)) / norm`` with half-up rounding
    and the straight-through gradient excluding the bounds (reference §1.1, §1.2)."""
    return MultiSpike(max_value=max_value, norm=norm, rounding=rounding, include_boundary=False)


def mask_at(active: Optional[torch.Tensor], x: torch.Tensor) -> Optional[torch.Tensor]:
    """The active mask (B, h, w) repeated to the spatial size of ``x`` (B, C, H, W), as
    (B, 1, H, W) in ``x``'s dtype; ``None`` without a mask."""
    if active is None:
        return None
    scale_h, scale_w = x.shape[-2] // active.shape[-2], x.shape[-1] // active.shape[-1]
    if scale_h * active.shape[-2] != x.shape[-2] or scale_w * active.shape[-1] != x.shape[-1]:
        raise ValueError(f'active mask {tuple(active.shape)} does not tile a map of spatial '
                         f'size {tuple(x.shape[-2:])}')
    m = active.repeat_interleave(scale_h, 1).repeat_interleave(scale_w, 2)
    return m.unsqueeze(1).to(x.dtype)


def sparse_batch_norm(x: torch.Tensor, bn: nn.BatchNorm2d,
                      mask: Optional[torch.Tensor]) -> torch.Tensor:
    """``bn(x)``; with ``mask`` (B, 1, H, W) the statistics (and running-statistics update)
    use the active positions only and the output is zero elsewhere (SparK's sparse BN)."""
    if mask is None:
        return batch_norm(x, bn)
    keep = mask[:, 0].bool()
    rows = x.permute(0, 2, 3, 1)[keep]  # (n_active, C)
    momentum = bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if momentum is None:  # cumulative moving average, as nn.BatchNorm
            momentum = 1.0 / float(bn.num_batches_tracked)
    use_batch = bn.training or bn.running_mean is None
    normed = F.batch_norm(rows, bn.running_mean, bn.running_var, bn.weight, bn.bias, use_batch,
                          0.0 if momentum is None else momentum, bn.eps)
    out = x.new_zeros(x.shape[0], x.shape[2], x.shape[3], x.shape[1])
    out[keep] = normed
    return out.permute(0, 3, 1, 2)


def _masked(y: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    return y if mask is None else y * mask


class LargeDownsample(nn.Module):
    """``[spike] -> Conv2d (bias) -> BN`` (upstream ``MS_DownSampling``); the stem
    (``first_layer``) consumes the analog image without a spike.

    Args:
        in_channels, out_channels, kernel_size, stride, padding: of the conv.
        first_layer (bool): no spike before the conv.
        max_value (int): D of the neuron.
        rounding (str): rounding of the neuron.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int, first_layer: bool = False, max_value: int = 4,
                 rounding: str = 'half_up'):
        super().__init__()
        self.encode_spike = None if first_layer else large_spike(max_value, rounding)
        self.encode_conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, active: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.encode_spike is not None:
            x = self.encode_spike(x)
        y = spike_linear(self.encode_conv, x)
        mask = mask_at(active, y)
        return sparse_batch_norm(_masked(y, mask), self.encode_bn, mask)


def _conv_unit(in_ch: int, out_ch: int) -> nn.Sequential:
    """3x3 conv (bias) + BN nested as upstream (keys ``<name>.0.0.*`` conv, ``<name>.0.1.*``
    BN)."""
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=True), nn.BatchNorm2d(out_ch)))


class LargeConvBlock(nn.Module):
    """``x + BN(conv3x3(S(BN(conv3x3(S(x))))))`` with widths C -> 4C -> C (upstream
    ``MS_ConvBlock``).

    Args:
        dim (int): channels C.
        mlp_ratio (int): expansion of the hidden conv.
        max_value (int): D of the neurons.
        rounding (str): rounding of the neurons.
    """

    def __init__(self, dim: int, mlp_ratio: int = 4, max_value: int = 4,
                 rounding: str = 'half_up'):
        super().__init__()
        self.spike1 = large_spike(max_value, rounding)
        self.conv1 = _conv_unit(dim, dim * mlp_ratio)
        self.spike2 = large_spike(max_value, rounding)
        self.conv2 = _conv_unit(dim * mlp_ratio, dim)

    def forward(self, x: torch.Tensor, active: Optional[torch.Tensor] = None) -> torch.Tensor:
        mask = mask_at(active, x)
        conv, bn = self.conv1[0]
        h = _masked(spike_linear(conv, self.spike1(x)), mask)
        if mask is None:
            s = self.spike2.after_norm(h, bn)
        else:
            s = self.spike2(sparse_batch_norm(h, bn, mask))
        conv, bn = self.conv2[0]
        h = _masked(spike_linear(conv, s), mask)
        return x + sparse_batch_norm(h, bn, mask)


def _conv1d_bn(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, bias=False), nn.BatchNorm1d(out_ch))


class RepConv(nn.Module):
    """``BN1d(Conv1d(BN1d(Conv1d(x))))`` without bias, hidden width ``int(hidden_ratio * C)``
    (upstream ``RepConv``: 1.5; ``RepConv2``: 1). The input is spikes; the second conv reads
    the first one's BN output.

    Args:
        in_channels (int), out_channels (int): widths.
        hidden_ratio (float): hidden width relative to ``in_channels``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_ratio: float = 1.5):
        super().__init__()
        hidden = int(in_channels * hidden_ratio)
        self.conv1 = _conv1d_bn(in_channels, hidden)
        self.conv2 = _conv1d_bn(hidden, out_channels)
        self.fused = None

    @torch.no_grad()
    def fuse(self) -> None:
        """Merge both convs and BNs (with their running statistics) into one ``fused``
        Conv1d with bias, fed by the spikes: the same function in eval mode, and every
        multiplication of the block becomes spike-driven (deployment; ``conv1`` / ``conv2``
        are removed, so the state dict changes)."""
        if self.fused is not None:
            return
        (c1, bn1), (c2, bn2) = copy.deepcopy(self.conv1), copy.deepcopy(self.conv2)
        fold_bn_into(c1, bn1)
        fold_bn_into(c2, bn2)
        w2 = c2.weight[..., 0]
        fused = nn.Conv1d(c1.in_channels, c2.out_channels, 1, bias=True).to(c1.weight)
        fused.weight.copy_((w2 @ c1.weight[..., 0])[..., None])
        fused.bias.copy_(w2 @ c1.bias + c2.bias)
        self.fused = fused.train(self.training)
        del self.conv1, self.conv2

    def forward(self, x) -> torch.Tensor:
        if self.fused is not None:
            return spike_linear(self.fused, x)
        h = batch_norm(spike_linear(self.conv1[0], x), self.conv1[1])
        return batch_norm(self.conv2[0](h), self.conv2[1])


class LargeAttention(nn.Module):
    """Spike-driven linear attention of the large models (upstream
    ``MS_Attention_Conv_qkv_id``).

    ``x = S(x)``; ``q, k, v = S(BN1d(RepConv(x)))``; per head ``out = 0.125 * q (k^T v)``
    (fixed scale, no softmax); ``BN1d(RepConv(S(out)))``. Tokens are (B, C, N).

    Args:
        dim (int): channels C (divisible by ``num_heads``).
        num_heads (int): heads.
        max_value (int): D of the neurons.
        rounding (str): rounding of the neurons.
    """
    scale = 0.125

    def __init__(self, dim: int, num_heads: int = 8, max_value: int = 4,
                 rounding: str = 'half_up'):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.num_heads = num_heads
        self.head_spike = large_spike(max_value, rounding)
        for name in ('q', 'k', 'v'):
            setattr(self, f'{name}_conv', nn.Sequential(RepConv(dim, dim), nn.BatchNorm1d(dim)))
            setattr(self, f'{name}_spike', large_spike(max_value, rounding))
        self.attn_spike = large_spike(max_value, rounding)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm1d(dim))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, N) -> (B, heads, N, C / heads); channel c belongs to head c // (C / heads)."""
        B, C, N = x.shape
        return x.transpose(1, 2).reshape(B, N, self.num_heads, C // self.num_heads) \
            .permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, N = x.shape
        x = self.head_spike(x)
        q, k, v = (spike_layout(getattr(self, f'{n}_spike')(
            batch_norm(getattr(self, f'{n}_conv')[0](x), getattr(self, f'{n}_conv')[1])),
            self._heads) for n in ('q', 'k', 'v'))
        k_t = spike_layout(k, lambda t: t.transpose(-2, -1))
        out = spike_matmul(q, spike_matmul(k_t, v)) * self.scale  # (B, heads, N, C / heads)
        out = out.permute(0, 1, 3, 2).reshape(B, C, N)
        return batch_norm(self.proj_conv[0](self.attn_spike(out)), self.proj_conv[1])


class LargeMLP(nn.Module):
    """``BN1d(Conv1d(S(BN1d(Conv1d(S(x))))))``, C -> ratio * C -> C (upstream ``MS_MLP``)."""

    def __init__(self, dim: int, mlp_ratio: int = 4, max_value: int = 4,
                 rounding: str = 'half_up'):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.fc1_spike = large_spike(max_value, rounding)
        self.fc1_conv = nn.Conv1d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc2_spike = large_spike(max_value, rounding)
        self.fc2_conv = nn.Conv1d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = spike_linear(self.fc1_conv, self.fc1_spike(x))
        h = spike_linear(self.fc2_conv, self.fc2_spike.after_norm(h, self.fc1_bn))
        return batch_norm(h, self.fc2_bn)


class LargeTransformerBlock(nn.Module):
    """Transformer block of the large models (upstream ``MS_Block``) on tokens (B, C, N).

    ``x + RepConv2(S(x))`` (only with ``rep_conv2``, the 83M "base" choice), then
    ``x + DropPath(ls1 * Attn(x))`` and ``x + DropPath(ls2 * MLP(x))``.

    Args:
        dim (int): channels.
        num_heads (int): attention heads.
        mlp_ratio (int): MLP expansion.
        rep_conv2 (bool): the leading ``rep_conv`` branch (Conv1d C->C + BN1d, twice).
        drop_path (float): stochastic-depth rate of the attention and MLP branches.
        layer_scale_init_value (float, optional): initial value of the per-channel
            ``layer_scale1`` / ``layer_scale2``; None: no layer scale (the SMA encoder).
        max_value (int): D of the neurons.
        rounding (str): rounding of the neurons.
    """

    def __init__(self, dim: int, num_heads: int = 8, mlp_ratio: int = 4,
                 rep_conv2: bool = False, drop_path: float = 0.,
                 layer_scale_init_value: Optional[float] = 1e-6, max_value: int = 4,
                 rounding: str = 'half_up'):
        super().__init__()
        if rep_conv2:
            self.rep_conv = RepConv(dim, dim, hidden_ratio=1.0)
            self.rep_spike = large_spike(max_value, rounding)
        else:
            self.rep_conv = None
        self.attn = LargeAttention(dim, num_heads, max_value, rounding)
        self.mlp = LargeMLP(dim, mlp_ratio, max_value, rounding)
        for i in (1, 2):
            scale = None if layer_scale_init_value is None else nn.Parameter(
                torch.full((dim, ), float(layer_scale_init_value)))
            self.register_parameter(f'layer_scale{i}', scale)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    @staticmethod
    def _scaled(branch: torch.Tensor, scale: Optional[torch.Tensor]) -> torch.Tensor:
        return branch if scale is None else branch * scale.view(1, -1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.rep_conv is not None:
            x = x + self.rep_conv(self.rep_spike(x))
        x = x + self.drop_path(self._scaled(self.attn(x), self.layer_scale1))
        return x + self.drop_path(self._scaled(self.mlp(x), self.layer_scale2))
