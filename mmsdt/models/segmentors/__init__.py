"""Stock mmseg segmentors with a build-time stride check (``mmsdt.SpikeEncoderDecoder``)."""
from .stride_checked import SpikeEncoderDecoder

__all__ = ['SpikeEncoderDecoder']
