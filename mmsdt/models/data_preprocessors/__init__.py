"""Data preprocessors for frames with a time axis: :class:`EventDataPreprocessor`
(classification, mmpretrain) and :class:`EventDetDataPreprocessor` (detection, mmdet); each is
imported only when its package is installed."""
from ..task_packages import is_installed

__all__ = []
if is_installed('mmpretrain'):
    from .event_data_preprocessor import EventDataPreprocessor  # noqa: F401
    __all__ += ['EventDataPreprocessor']
if is_installed('mmdet'):
    from .event_det_data_preprocessor import EventDetDataPreprocessor  # noqa: F401
    __all__ += ['EventDetDataPreprocessor']
