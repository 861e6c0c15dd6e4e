"""Data preprocessors (mmpretrain): :class:`EventDataPreprocessor` for frames with a time axis."""
from .event_data_preprocessor import EventDataPreprocessor

__all__ = ['EventDataPreprocessor']
