"""Batch augmentations for inputs with a time axis, in mmpretrain's ``BATCH_AUGMENTS``.

:data:`BATCH_AUGMENTS` is a child of mmpretrain's registry with scope ``mmsdt``, so the
``batch_augments`` argument of a data preprocessor names them ``type='mmsdt.EventMix'``.
"""
from .event_mix import BATCH_AUGMENTS, EventMix

__all__ = ['BATCH_AUGMENTS', 'EventMix']
