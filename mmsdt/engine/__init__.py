"""mmengine extensions (hooks, optimizer wrapper constructors); importing this package
registers them."""
from .hooks import ClassDataCheckHook, ClassDataError, FiringRateHook, SafeCheckpointHook
from .optimizers import MergedGroupsOptimWrapperConstructor, merge_param_groups

__all__ = [
    'SafeCheckpointHook', 'ClassDataCheckHook', 'ClassDataError', 'FiringRateHook',
    'MergedGroupsOptimWrapperConstructor', 'merge_param_groups'
]
