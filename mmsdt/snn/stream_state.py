"""Membranes carried from one forward call to the next: streaming over the windows of a
recording.

A stateful neuron (:class:`~mmsdt.snn.MultiStepIntIF`) keeps its membrane only inside one
forward call. Streaming detection on an event camera is the one place where it is carried
further: the window of a recording's next labelled timestamp starts from the membrane the
previous window ended with, and a new recording starts from zero. :class:`StreamState` holds
those membranes, one tensor ``(B, ...)`` per neuron and batch row, and :func:`carrying`
makes it the store of the forward running in this thread (a thread-local, like
:func:`~mmsdt.snn.time_steps`).

Per forward call the owner (e.g. :class:`mmsdt.StreamingRetinaNet`) calls
:meth:`StreamState.begin` with, for every batch row, whether its sample starts a recording;
those rows start from zero, the others from the membrane that row's previous sample left.
Inside :func:`carrying`, each stateful neuron that runs with a time axis reads its initial
membrane with :meth:`StreamState.initial` and leaves its last one with
:meth:`StreamState.store`. The carried membranes are detached: gradients stop at the window
boundary (truncated backpropagation through time); within a window the neuron's own
membrane path is unchanged.
"""
import contextlib
import threading
from typing import Dict, Iterator, Optional, Sequence, Set

import torch
from torch import nn


class _CarryState(threading.local):
    """The :class:`StreamState` of the forward running in this thread (None: no carry)."""

    def __init__(self):
        self.store: Optional['StreamState'] = None


_carry = _CarryState()


def current_stream_state() -> Optional['StreamState']:
    """The store of the forward running in this thread, ``None`` outside :func:`carrying`."""
    return _carry.store


@contextlib.contextmanager
def carrying(state: Optional['StreamState']) -> Iterator[Optional['StreamState']]:
    """Make ``state`` the membrane store of the stateful neurons inside the ``with`` block
    (``None``: no carry). The previous store is restored on exit, after an exception too."""
    previous = _carry.store
    _carry.store = state
    try:
        yield state
    finally:
        _carry.store = previous


class StreamState:
    """The carried membranes of the stateful neurons of one model, per batch row.

    Nothing here is a parameter or buffer: state dicts, EMA copies and checkpoints never see
    it, and a deep copy (an EMA model) starts empty. Membranes are keyed by the neuron module
    (its ``id``), so one store serves one model.

    A neuron may run once per forward call with the carry on (a second call would need a
    second membrane); the store raises if it runs twice.
    """

    def __init__(self):
        self._membranes: Dict[int, torch.Tensor] = {}
        self._batch_size: Optional[int] = None
        self._fresh: Optional[torch.Tensor] = None  # (B,) bool: rows starting from zero
        self._seen: Set[int] = set()

    def __deepcopy__(self, memo) -> 'StreamState':
        return type(self)()

    def __len__(self) -> int:
        return len(self._membranes)

    @property
    def batch_size(self) -> Optional[int]:
        """Rows of the current forward call (None before the first :meth:`begin`)."""
        return self._batch_size

    def clear(self) -> None:
        """Forget every membrane (the next forward starts from zero)."""
        self._membranes.clear()
        self._batch_size = None
        self._fresh = None
        self._seen.clear()

    def begin(self, first_in_recording: Sequence[bool]) -> None:
        """Start a forward call of ``len(first_in_recording)`` rows: rows flagged True start
        from a zero membrane, the others continue from their row's last membrane.

        Raises:
            ValueError: a row continues but the previous call had no such row (the batch
                grew), or the flags are empty.
        """
        fresh = torch.as_tensor([bool(f) for f in first_in_recording], dtype=torch.bool)
        if fresh.numel() == 0:
            raise ValueError('StreamState.begin: no batch rows (first_in_recording is empty)')
        previous = self._batch_size if self._membranes else 0
        continuing = [i for i in range(len(fresh)) if not fresh[i] and i >= previous]
        if continuing:
            raise ValueError(
                f'StreamState: batch rows {continuing} continue a recording '
                f'(first_in_recording=False) but the previous forward call had '
                f'{previous} row(s) and so no membrane for them; stream each recording from '
                f'its first sample (mmsdt.RecordingStreamSampler) with the same batch size')
        self._batch_size = len(fresh)
        self._fresh = fresh
        self._seen.clear()

    def initial(self, neuron: nn.Module, shape: torch.Size, like: torch.Tensor
                ) -> Optional[torch.Tensor]:
        """The membrane ``neuron`` starts this call with, shape ``shape`` = ``(B, ...)``
        (``None``: zero everywhere); rows flagged in :meth:`begin` are zero.

        Raises:
            RuntimeError: :meth:`begin` was not called, or ``neuron`` already ran in this call.
            ValueError: ``shape`` does not hold the call's batch size, or a continuing row's
                membrane has another shape (the input size changed inside a recording).
        """
        if self._fresh is None:
            raise RuntimeError('StreamState: begin(first_in_recording) must start every '
                               'forward call that carries membranes')
        key = id(neuron)
        if key in self._seen:
            raise RuntimeError(
                f'StreamState: {type(neuron).__name__} ran twice in one forward call; a '
                f'carried membrane needs one call per neuron and forward (is the module '
                f'shared, or recomputed by gradient checkpointing (with_cp)?)')
        self._seen.add(key)
        if shape[0] != self._batch_size:
            raise ValueError(f'StreamState: a neuron input holds {shape[0]} rows per time '
                             f'step, the forward call has {self._batch_size}')
        stored = self._membranes.get(key)
        if stored is None or bool(self._fresh.all()):
            return None
        keep = ~self._fresh
        rows = min(stored.shape[0], self._batch_size)
        if tuple(stored.shape[1:]) != tuple(shape[1:]):
            raise ValueError(
                f'StreamState: a carried membrane has shape {tuple(stored.shape[1:])} per '
                f'row, the next window of the same recording {tuple(shape[1:])}: the input '
                f'size changed inside a recording')
        v0 = torch.zeros(shape, dtype=like.dtype, device=like.device)
        keep = keep[:rows].to(like.device).view(-1, *([1] * (len(shape) - 1)))
        v0[:rows] = torch.where(keep, stored[:rows].to(like.dtype), v0[:rows])
        return v0

    def store(self, neuron: nn.Module, membrane: torch.Tensor) -> None:
        """Keep ``membrane`` ``(B, ...)`` (detached) as ``neuron``'s start of the next call."""
        self._membranes[id(neuron)] = membrane.detach()
