"""Stock mmseg segmentors whose construction fails when a declared stride is wrong."""
from typing import List

from mmseg.models.segmentors import EncoderDecoder
from torch import nn

from mmsdt.registry import MODELS
from ..stride_check import StrideCheckMixin, StrideDeclaration


def segmentor_declared_strides(segmentor: nn.Module, real: List[int]) -> List[StrideDeclaration]:
    """The decode head's ``feature_strides`` with the strides of the levels it reads
    (``in_index``); heads without ``feature_strides`` declare nothing."""
    head = segmentor.decode_head
    declared = getattr(head, 'feature_strides', None)
    if declared is None:
        return []
    index = head.in_index if isinstance(head.in_index, (list, tuple)) else [head.in_index]
    return [('decode_head.feature_strides', [int(s) for s in declared], [real[i] for i in index])]


@MODELS.register_module()
class StrideCheckedEncoderDecoder(StrideCheckMixin, EncoderDecoder):
    """mmseg's :class:`EncoderDecoder` that fails loudly, when built, if the decode head's
    ``feature_strides`` differ from the strides of the levels it reads (the upstream configs
    declared 4, 8, 16, 32 for levels of stride 2, 4, 8, 16). The measured strides of all
    levels are stored as ``feature_strides``.

    Args:
        *args, **kwargs: the arguments of mmseg's EncoderDecoder.
    """
    declared_strides = segmentor_declared_strides
