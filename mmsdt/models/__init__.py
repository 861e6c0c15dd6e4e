"""mmsdt models; importing this package registers them in ``mmsdt.registry.MODELS``."""
from .backbones import ESpikeFormer

__all__ = ['ESpikeFormer']
