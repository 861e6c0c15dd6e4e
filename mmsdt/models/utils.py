"""Helpers shared by the spiking necks, heads, detectors and segmentors."""
from typing import List, Optional, Union

import torch
from mmcv.cnn import ConvModule
from torch import nn

from mmsdt.snn import SpikeTrain, spike_linear


def integer_spike_cfg(spike_cfg: Optional[dict] = None) -> dict:
    """MultiSpike arguments for layers without normalisation: ``norm=1`` unless given.

    The detection neck and heads have no BN after their convs / FCs, and mmdet's inits assume
    O(1) inputs. Integer spikes (0..D, ``norm=1``, as the upstream detection neck and heads)
    keep the next layer's potentials O(1); with ``norm=D`` they start 4x smaller, mostly
    below the first threshold (0.5), and the heads learn slowly from scratch (toy Mask R-CNN,
    192 px, lr 2e-3: bbox mAP 0.035 at iteration 200 of a 600-iteration run with ``norm=4``
    heads, 0.148 after a 200-iteration run with ``norm=1``). ``norm`` only rescales the next
    layer's input, so spike-driven execution is unaffected.
    """
    cfg = dict(norm=1)
    cfg.update(spike_cfg or {})
    return cfg


def spike_conv_module(module: nn.Module, x: Union[torch.Tensor, SpikeTrain]) -> torch.Tensor:
    """Run a ConvModule (or a plain conv / Linear) on spikes.

    In integer mode this is ``module(x)``. In spike-driven mode the conv of a ConvModule is
    evaluated per binary map (:func:`~mmsdt.snn.spike_linear`) and its norm / activation are
    applied to the accumulated result, in the module's order.
    """
    if not isinstance(module, ConvModule):
        return spike_linear(module, x)
    if not isinstance(x, SpikeTrain):
        return module(x)
    out = x
    for layer in module.order:
        if layer == 'conv':
            out = spike_linear(module.conv, out)
        elif layer == 'norm' and module.with_norm:
            out = module.norm(out)
        elif layer == 'act' and module.with_activation:
            out = module.activate(out)
    return out


def measured_strides(backbone: nn.Module, neck: Optional[nn.Module] = None, size: int = 256,
                     in_channels: int = 3) -> List[int]:
    """Strides of ``neck(backbone(x))`` measured on a ``size`` x ``size`` input.

    ``size`` is a power of two, so every level's stride is ``size // height`` exactly.
    The modules' training flags are restored; no gradient is recorded.
    """
    modules = [m for m in (backbone, neck) if m is not None]
    modes = [m.training for m in modules]
    device = next(backbone.parameters()).device
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            feats = backbone(torch.zeros(1, in_channels, size, size, device=device))
            if neck is not None:
                feats = neck(feats)
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)
    return [size // f.shape[-2] for f in feats]
