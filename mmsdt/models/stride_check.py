"""Build-time check that the strides a model declares are the strides it produces.

Anchor generators, RoI extractors and decode heads are configured with the strides of the
feature levels they read; the backbone and neck decide what those strides really are (the
upstream configs declared 32 where the backbone gives 16). :class:`StrideCheckMixin` measures
the real strides once, right after the stock model is built, and fails loudly on a mismatch.
The same dummy forward compares the neck's ``in_channels`` with the channels of the backbone's
levels before the neck runs, so a wrong list names ``model.neck.in_channels`` instead of
ending in a convolution shape error.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import nn

# (where it is declared, the declared strides, the strides of the levels it reads)
StrideDeclaration = Tuple[str, List[int], List[int]]


def check_neck_in_channels(neck: nn.Module, channels: Sequence[int]) -> None:
    """Raise if the neck's declared ``in_channels`` differ from the channels it is fed.

    Necks that take a list of levels (mmdet's / mmseg's ``FPN``, ``ChannelMapper``) declare
    the channels of each level in ``in_channels``; a wrong list would otherwise surface as a
    convolution shape error (or a bare ``assert``) deep inside the first forward.

    Args:
        neck: the built neck; necks without a list ``in_channels`` are not checked.
        channels: the channels of the levels the backbone really produces.

    Raises:
        ValueError: naming ``model.neck.in_channels``, the declared and the real list.
    """
    declared = getattr(neck, 'in_channels', None)
    if not isinstance(declared, (list, tuple)):
        return
    if [int(c) for c in declared] != [int(c) for c in channels]:
        raise ValueError(
            f'model.neck.in_channels = {list(declared)}, but the backbone produces '
            f'{len(channels)} levels with {list(channels)} channels; set model.neck.in_channels '
            f'to {list(channels)} (or change the backbone\'s out_indices / arch).')


def measured_strides(backbone: nn.Module, neck: Optional[nn.Module] = None, size: int = 256,
                     in_channels: int = 3) -> List[int]:
    """Strides of ``neck(backbone(x))`` measured on a ``size`` x ``size`` input.

    ``size`` is a power of two, so every level's stride is ``size // height`` exactly.
    Before the neck runs, its ``in_channels`` are compared with the channels of the backbone's
    levels (:func:`check_neck_in_channels`). The modules' training flags are restored; no
    gradient is recorded.
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
                check_neck_in_channels(neck, [f.shape[1] for f in feats])
                feats = neck(feats)
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)
    return [size // f.shape[-2] for f in feats]


def input_channels(backbone: nn.Module) -> int:
    """The channels the backbone's first conv takes (3 for a backbone without convs)."""
    conv = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    return 3 if conv is None else int(conv.in_channels)


class StrideCheckMixin:
    """Mixin for a stock OpenMMLab model (detector, segmentor) with a build-time stride check.

    Put it first among the bases (``class StrideCheckedMaskRCNN(StrideCheckMixin,
    MaskRCNN)``). After the stock ``__init__`` it measures the strides of ``neck(backbone(x))``
    (:func:`measured_strides`), stores them as ``feature_strides`` and compares them with
    every stride list the model declares. Each model family supplies its declarations by
    setting the class attribute ``declared_strides`` to a function ``(model, real strides) ->
    [(where, declared, expected), ...]``.

    Raises:
        ValueError: when built, if the neck's ``in_channels`` differ from the backbone's
            output channels (:func:`check_neck_in_channels`), or if any declared stride list
            differs from the strides of the levels it reads; the message names where each
            list is declared and gives both lists.
    """
    declared_strides: Callable[..., List[StrideDeclaration]]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        real = measured_strides(self.backbone, self.neck if self.with_neck else None,
                                in_channels=input_channels(self.backbone))
        problems = [
            f'{where} = {list(declared)}, but the backbone + neck produce {list(expected)}'
            for where, declared, expected in self.declared_strides(real)
            if list(declared) != list(expected)
        ]
        if problems:
            raise ValueError('stride mismatch: ' + '; '.join(problems) +
                             f' (all levels have strides {real}). Fix the strides declared in '
                             'the config, or the backbone (ESpikeFormer out_indices / '
                             'stage4_stride).')
        self.feature_strides: Tuple[int, ...] = tuple(real)

