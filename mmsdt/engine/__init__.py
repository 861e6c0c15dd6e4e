"""mmengine extensions (hooks, optimizer wrapper constructors, the runner); importing this
package registers them."""
from .hooks import (AtomicCheckpointHook, ClassDataCheckHook, ClassDataError, FiringRateHook,
                    SafeCheckpointHook)
from .optimizers import MergedGroupsOptimWrapperConstructor, merge_param_groups
from .runner import SafeRunner

__all__ = [
    'AtomicCheckpointHook', 'SafeCheckpointHook', 'ClassDataCheckHook', 'ClassDataError',
    'FiringRateHook', 'MergedGroupsOptimWrapperConstructor', 'merge_param_groups', 'SafeRunner'
]
