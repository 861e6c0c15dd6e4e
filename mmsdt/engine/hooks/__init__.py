"""mmsdt hooks."""
from .class_data_check_hook import ClassDataCheckHook, ClassDataError, check_class_data
from .firing_rate_hook import FiringRateHook
from .safe_checkpoint_hook import AtomicCheckpointHook, SafeCheckpointHook

__all__ = [
    'AtomicCheckpointHook', 'SafeCheckpointHook', 'ClassDataCheckHook', 'ClassDataError',
    'check_class_data', 'FiringRateHook'
]
