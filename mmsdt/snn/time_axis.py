"""The time axis: T time steps folded into the batch, and the number T for the neurons.

A model with real time steps (event-camera frames) takes ``(B, T, C, H, W)``. Every conv,
BatchNorm and attention product runs on the T-major fold ``(T * B, C, H, W)``: row
``t * B + b`` holds time step ``t`` of sample ``b``, so :func:`unfold_time` is a view
``(T, B, ...)``. Only the neurons need to know T (a stateful neuron integrates over it); the
model gives it to them explicitly with :func:`time_steps` for the duration of one forward
call, never by guessing from a tensor's rank.

The value is per thread (a forward running in another thread, e.g. an autograd recomputation
of a checkpointed block, sets it again there; :class:`~mmsdt.models.ESpikeFormer` does), and
:func:`time_steps` restores the previous value on exit, so nothing outlives the forward call.
"""
import contextlib
import threading
from typing import Iterator, Optional

import torch


class _TimeState(threading.local):
    """The number of time steps of the forward running in this thread (None: no time axis)."""

    def __init__(self):
        self.steps: Optional[int] = None


_state = _TimeState()


def current_time_steps() -> Optional[int]:
    """T of the forward running in this thread, ``None`` when it has no time axis."""
    return _state.steps


@contextlib.contextmanager
def time_steps(steps: Optional[int]) -> Iterator[Optional[int]]:
    """Set T for the forward running in this thread inside the ``with`` block.

    ``None`` declares a forward without a time axis (also inside an outer block). The previous
    value is restored on exit, after an exception too.

    Raises:
        ValueError: ``steps`` is not a positive int or None.

    Example:
        >>> with time_steps(4):  # frames: (B, 4, C, H, W)
        ...     out = unfold_time(stateful_neuron(fold_time(frames)), 4)
    """
    if steps is not None and (isinstance(steps, bool) or int(steps) != steps or steps < 1):
        raise ValueError(f'time steps must be a positive integer or None, got {steps!r}')
    previous = _state.steps
    _state.steps = None if steps is None else int(steps)
    try:
        yield _state.steps
    finally:
        _state.steps = previous


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """``(B, T, ...)`` -> ``(T * B, ...)``, T-major (row ``t * B + b``)."""
    if x.dim() < 2:
        raise ValueError(f'fold_time needs (B, T, ...), got shape {tuple(x.shape)}')
    return x.transpose(0, 1).reshape(x.shape[0] * x.shape[1], *x.shape[2:])


def unfold_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``(T * B, ...)`` -> ``(T, B, ...)`` (a view of a contiguous fold).

    Raises:
        ValueError: the first dimension is not a multiple of ``steps``.
    """
    if x.dim() < 1 or x.shape[0] % steps:
        raise ValueError(f'cannot unfold T={steps} time steps from a tensor of shape '
                         f'{tuple(x.shape)}: its first dimension is not a multiple of T')
    return x.unflatten(0, (steps, x.shape[0] // steps))


def mean_over_time(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``(T * B, ...)`` -> ``(B, ...)``: the mean over the T time steps of each sample."""
    return unfold_time(x, steps).mean(0)
