"""mmsdt: spike-driven Transformers as OpenMMLab components.

Importing mmsdt allow-lists, for ``torch.load(weights_only=True)``, the few trusted globals
that released SDT-V3 files and mmengine's own checkpoints pickle (``argparse.Namespace``,
numpy arrays, mmengine's log buffer), so ``--resume`` and ``load_from`` work on torch >= 2.6
without ``weights_only=False``.
"""
from .utils.checkpoint import allow_trusted_checkpoint_globals
from .version import __version__

allow_trusted_checkpoint_globals()

__all__ = ['__version__']
