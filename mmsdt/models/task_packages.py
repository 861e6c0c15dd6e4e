"""Optional task packages (mmdet, mmseg, mmpretrain): what needs them, and a clear error
without them.

``mmsdt.models`` imports its detection components only when mmdet is installed, its
segmentation components only when mmseg is and its classification head only when mmpretrain
is. Without the package, each missing component is registered under its own name as a
placeholder that raises an ``ImportError`` naming the package and the pip extra, so a config
asking for it fails with that message instead of "not in the registry".
"""
import importlib
from dataclasses import dataclass
from typing import Callable, Tuple

from mmsdt.registry import MODELS


@dataclass(frozen=True)
class TaskPackage:
    """An optional OpenMMLab package and the mmsdt components that need it.

    Attributes:
        import_name: the top-level module, e.g. ``'mmdet'``.
        requirement: the pip requirement, e.g. ``'mmdet==3.3.0'``.
        extra: the mmsdt extra that installs it (``pip install 'mmsdt[<extra>]'``).
        components: registry names of the mmsdt components that import it.
    """
    import_name: str
    requirement: str
    extra: str
    components: Tuple[str, ...]

    def missing_message(self, component: str) -> str:
        """The error for building ``component`` without the package."""
        return (f"mmsdt.{component} needs {self.import_name} ({self.requirement}, pip install "
                f"'mmsdt[{self.extra}]'), which is not installed")


def is_installed(import_name: str) -> bool:
    """Whether ``import import_name`` works.

    Only the package's own absence counts as "not installed": an installed package that fails
    to import (a missing dependency of its own, a version check) raises as usual.
    """
    try:
        importlib.import_module(import_name)
    except ModuleNotFoundError as err:
        if err.name != import_name:
            raise
        return False
    return True


def _placeholder(package: TaskPackage, component: str) -> Callable:

    def build(*args, **kwargs):
        raise ImportError(package.missing_message(component))

    build.__name__ = build.__qualname__ = component
    build.__doc__ = package.missing_message(component)
    return build


def register_placeholders(package: TaskPackage) -> None:
    """Register, in mmsdt's MODELS, a function per component of ``package`` that raises
    ``ImportError(package.missing_message(component))`` when a config builds it."""
    for component in package.components:
        MODELS.register_module(name=component, module=_placeholder(package, component))
