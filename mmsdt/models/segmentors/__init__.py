"""Stock mmseg segmentors with a build-time stride check (``mmsdt.SpikeEncoderDecoder``)."""
from .stride_checked_segmentors import SpikeEncoderDecoder, segmentor_declared_strides

__all__ = ['SpikeEncoderDecoder', 'segmentor_declared_strides']
