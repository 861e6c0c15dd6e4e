"""Stock mmseg segmentors with a build-time stride check (``mmsdt.StrideCheckedEncoderDecoder``)."""
from .stride_checked_segmentors import StrideCheckedEncoderDecoder, segmentor_declared_strides

__all__ = ['StrideCheckedEncoderDecoder', 'segmentor_declared_strides']
