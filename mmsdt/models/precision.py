"""The one mixed-precision switch of mmsdt models: ``autocast_dtype``.

A model part that offers bf16 / fp16 mixed precision inherits :class:`AutocastSwitch`, keeps
the option in its ``autocast_dtype`` attribute (set through :meth:`~AutocastSwitch.
set_autocast_dtype`, e.g. ``model.backbone.autocast_dtype='bfloat16'`` in a config, or
``tools/train.py --amp`` without CUDA) and wraps its forward in :meth:`~AutocastSwitch.
autocast` and :meth:`~AutocastSwitch.float32_outputs`. Layers inside it ask
:func:`cpu_autocast_active` / :func:`autocast_disabled` for the ops that stay in float32, and
tools that need float32 arithmetic call :func:`switch_off_autocast` on the whole model. A new
model gets the option by inheriting the mixin; nothing else is threaded through.
"""
import contextlib
from typing import ContextManager, List, Optional, Sequence

import torch
from torch import nn

AUTOCAST_DTYPES = ('bfloat16', 'float16')


def check_autocast_dtype(dtype: Optional[str]) -> Optional[str]:
    """``dtype`` if it is ``None`` or one of :data:`AUTOCAST_DTYPES`, else a ValueError."""
    if dtype is not None and dtype not in AUTOCAST_DTYPES:
        raise ValueError(f"autocast_dtype must be None, 'bfloat16' or 'float16', got "
                         f'{dtype!r}')
    return dtype


class AutocastSwitch:
    """Mixin of an ``nn.Module`` with the ``autocast_dtype`` option.

    ``autocast_dtype`` (``None``, ``'bfloat16'`` or ``'float16'``) runs the module's forward
    under ``torch.autocast`` of the input's device with that dtype; its outputs are cast back
    to float32 for whatever comes next. ``None`` (default) is float32 throughout.
    """
    autocast_dtype: Optional[str] = None

    def set_autocast_dtype(self, dtype: Optional[str]) -> None:
        """Validate and set ``autocast_dtype``."""
        self.autocast_dtype = check_autocast_dtype(dtype)

    def autocast(self, x: torch.Tensor) -> ContextManager:
        """``torch.autocast`` on ``x``'s device with ``autocast_dtype``, or a no-op."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(x.device.type, dtype=getattr(torch, self.autocast_dtype))

    def float32_outputs(self, outs: Sequence[torch.Tensor]) -> tuple:
        """``outs`` as a tuple, in float32 when the forward ran under autocast."""
        if self.autocast_dtype is None:
            return tuple(outs)
        return tuple(o.float() for o in outs)


def cpu_autocast_active(x: torch.Tensor) -> bool:
    """Whether ``x`` is on the CPU and CPU autocast is on (where oneDNN's bf16 depthwise
    kernels are slower than float32, so those convs run in float32)."""
    return x.device.type == 'cpu' and torch.is_autocast_enabled('cpu')


def autocast_disabled(x: torch.Tensor, disable: bool = True) -> ContextManager:
    """Autocast of ``x``'s device switched off inside (when ``disable``), else a no-op."""
    if not disable:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, enabled=False)


def switch_off_autocast(module: nn.Module) -> List[str]:
    """Run every :class:`AutocastSwitch` part of ``module`` in float32 from now on; returns
    the names of the parts switched, ``''`` for ``module`` itself.

    ``autocast_dtype='bfloat16'`` is a training-speed option (``tools/train.py --amp``).
    Tools whose result is an arithmetic statement rather than a prediction (the ONNX export, a
    float32 graph; the spike-driven verification, integer mode against binary spike maps) run
    the model in float32 instead.
    """
    switched = []
    for name, sub in module.named_modules():
        if isinstance(sub, AutocastSwitch) and sub.autocast_dtype is not None:
            sub.autocast_dtype = None
            switched.append(name)
    return switched
