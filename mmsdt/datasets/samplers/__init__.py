"""Samplers of mmsdt data sets: :class:`RecordingStreamSampler` streams whole recordings in
time order (streaming event-camera detection)."""
from .recording_stream_sampler import RecordingStreamSampler

__all__ = ['RecordingStreamSampler']
