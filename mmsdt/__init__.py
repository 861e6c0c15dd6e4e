"""mmsdt: spike-driven Transformers as OpenMMLab components."""
from .version import __version__

__all__ = ['__version__']
