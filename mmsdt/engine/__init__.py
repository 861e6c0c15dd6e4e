"""mmengine extensions (hooks, optimizer wrapper constructors); importing this package
registers them."""
from .hooks import SafeCheckpointHook
from .optimizers import MergedGroupsOptimWrapperConstructor, merge_param_groups

__all__ = ['SafeCheckpointHook', 'MergedGroupsOptimWrapperConstructor', 'merge_param_groups']
