"""Spiking torch layers: a :class:`~mmsdt.snn.MultiSpike` in front of a stock linear layer.

``SpikeConv2d``, ``SpikeLinear`` and ``SpikeConvTranspose2d`` are ``nn.Conv2d``, ``nn.Linear``
and ``nn.ConvTranspose2d`` with the same constructor arguments plus ``spike_cfg``. Each owns a
child neuron ``spike`` (no parameters, no buffers), so its state dict is exactly the torch
layer's (``weight``, ``bias``) and checkpoints of the plain layer load into it. ``forward``
spikes its input and then applies the layer through :func:`~mmsdt.snn.spike_linear`, the
choke point of every spike consumer: in spike-driven mode the weights are applied to each
binary spike map and accumulated.

Because they keep the constructor of the torch layer, they drop into any code that builds its
layers from a config (an OpenMMLab ``conv_cfg`` / predictor config), and :func:`as_spiking`
turns a plain layer already built by stock code into a spiking one that keeps its parameters.
"""
from typing import Optional

import torch
from torch import nn

from .neuron import MultiSpike
from .spike_driven import spike_linear


def integer_spike_cfg(spike_cfg: Optional[dict] = None) -> dict:
    """MultiSpike arguments for layers without normalisation: ``norm=1`` unless given.

    The detection / segmentation necks and heads have no BN after their convs / FCs, and
    mmdet's inits assume O(1) inputs. Integer spikes (0..D, ``norm=1``, as the upstream
    detection neck and heads) keep the next layer's potentials O(1); with ``norm=D`` they start
    4x smaller, mostly below the first threshold (0.5), and the heads learn slowly from scratch
    (toy Mask R-CNN, 192 px, lr 2e-3: bbox mAP 0.035 at iteration 200 of a 600-iteration run
    with ``norm=4`` heads, 0.148 after a 200-iteration run with ``norm=1``). ``norm`` only
    rescales the next layer's input, so spike-driven execution is unaffected.
    """
    cfg = dict(norm=1)
    cfg.update(spike_cfg or {})
    return cfg


class _SpikeInput:
    """Mixin placed before a torch linear layer: a ``spike`` neuron in front of it.

    ``__init__`` takes the layer's own arguments plus ``spike_cfg``; ``forward`` spikes the
    input and runs the layer through :func:`~mmsdt.snn.spike_linear` (the layer's own
    ``forward`` in integer mode, per binary map in spike-driven mode).
    """

    def __init__(self, *args, spike_cfg: Optional[dict] = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spike = MultiSpike(**integer_spike_cfg(spike_cfg))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spike_linear(self, self.spike(x), dense=super().forward)


class SpikeConv2d(_SpikeInput, nn.Conv2d):
    """``nn.Conv2d`` fed by integer spikes: ``forward(x) = conv(MultiSpike(x))``.

    Args:
        *args, **kwargs: the arguments of ``nn.Conv2d`` (also ``device`` / ``dtype``).
        spike_cfg (dict, optional): arguments of the :class:`~mmsdt.snn.MultiSpike` before the
            conv; ``norm`` defaults to 1 (integer spikes, see :func:`integer_spike_cfg`).

    Note:
        mmcv's ConvModule option ``efficient_conv_bn_eval`` (off by default) fuses BN into
        the conv by calling ``_conv_forward`` directly, which would skip the spike: leave it
        off for spiking convs.

    Example:
        >>> conv = SpikeConv2d(8, 16, 3, padding=1)
        >>> sorted(conv.state_dict())
        ['bias', 'weight']
    """


class SpikeLinear(_SpikeInput, nn.Linear):
    """``nn.Linear`` fed by integer spikes: ``forward(x) = linear(MultiSpike(x))``.

    Args:
        *args, **kwargs: the arguments of ``nn.Linear`` (also ``device`` / ``dtype``).
        spike_cfg (dict, optional): arguments of the :class:`~mmsdt.snn.MultiSpike` before the
            layer; ``norm`` defaults to 1 (integer spikes, see :func:`integer_spike_cfg`).
    """


class SpikeConvTranspose2d(_SpikeInput, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` fed by integer spikes (``output_size`` is not supported).

    Args:
        *args, **kwargs: the arguments of ``nn.ConvTranspose2d`` (also ``device`` /
            ``dtype``).
        spike_cfg (dict, optional): arguments of the :class:`~mmsdt.snn.MultiSpike` before the
            deconv; ``norm`` defaults to 1 (integer spikes, see :func:`integer_spike_cfg`).
    """


_SPIKING = (SpikeConv2d, SpikeLinear, SpikeConvTranspose2d)


def _conv_args(layer: nn.modules.conv._ConvNd) -> dict:
    return dict(in_channels=layer.in_channels, out_channels=layer.out_channels,
                kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                dilation=layer.dilation, groups=layer.groups, bias=layer.bias is not None,
                padding_mode=layer.padding_mode)


def as_spiking(layer: nn.Module, spike_cfg: Optional[dict] = None,
               allow_subclass: bool = False) -> nn.Module:
    """The spiking layer of the same kind and arguments that takes over ``layer``'s parameters.

    For code that builds a plain ``nn.Conv2d`` / ``nn.Linear`` / ``nn.ConvTranspose2d``
    directly: the result holds the very ``weight`` / ``bias`` Parameters of ``layer`` (same
    values, same state-dict keys) and is created on the meta device first, so no random
    number is drawn: a model that swaps its plain layers this way consumes the same random
    stream at construction as the stock model.

    Args:
        layer: an ``nn.Conv2d``, ``nn.Linear`` or ``nn.ConvTranspose2d``.
        spike_cfg (dict, optional): MultiSpike arguments (see :func:`integer_spike_cfg`).
        allow_subclass (bool): also accept a subclass of those (not a spiking layer). Its own
            ``forward`` is not carried over, so only for subclasses that compute what the torch
            layer computes (e.g. mmcv's ``ConvTranspose2d`` wrapper, which differs from
            torch's only on torch < 1.4). Default False: exactly the torch classes.

    Raises:
        TypeError: ``layer`` is of another type.
    """
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    kind = next((k for k in kinds if type(layer) is k), None)
    if kind is None and allow_subclass and not isinstance(layer, _SPIKING):
        kind = next((k for k in kinds if isinstance(layer, k)), None)
    if kind is None:
        raise TypeError('as_spiking converts nn.Conv2d, nn.Linear and nn.ConvTranspose2d'
                        f'{" (or subclasses)" if allow_subclass else ""}, not '
                        f'{type(layer).__module__}.{type(layer).__name__}')
    if kind is nn.Conv2d:
        spiking = SpikeConv2d(**_conv_args(layer), spike_cfg=spike_cfg, device='meta')
    elif kind is nn.ConvTranspose2d:
        spiking = SpikeConvTranspose2d(**_conv_args(layer), output_padding=layer.output_padding,
                                       spike_cfg=spike_cfg, device='meta')
    else:
        spiking = SpikeLinear(layer.in_features, layer.out_features, bias=layer.bias is not None,
                              spike_cfg=spike_cfg, device='meta')
    spiking.weight = layer.weight
    spiking.bias = layer.bias
    return spiking.train(layer.training)
