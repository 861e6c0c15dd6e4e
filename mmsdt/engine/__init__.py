"""mmengine extensions (hooks); importing this package registers them."""
from .hooks import SafeCheckpointHook

__all__ = ['SafeCheckpointHook']
