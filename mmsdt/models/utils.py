"""Helpers shared by the spiking necks and heads."""
from typing import Union

import torch
from mmcv.cnn import ConvModule
from torch import nn

from mmsdt.snn import SpikeTrain, spike_linear


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
