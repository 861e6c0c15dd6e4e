"""Observers: the one public protocol for code that watches a spiking model run.

Everything that measures spikes (the firing-rate recorder, the SOP / energy counter, the BN
folding tracer, the spike-driven verification) is a :class:`SpikeObserver`, in the manner of
SpikingJelly's single ``BaseMonitor``. An observer hears three events:

* ``on_spike(neuron, output)``: a watched neuron emitted spikes (an integer-mode tensor
  ``count / norm`` or a :class:`~mmsdt.snn.SpikeTrain`); delivered by forward hooks that
  :meth:`SpikeObserver.watch_neurons` puts on the neurons;
* ``on_linear(layer, x, will_call_module)``: :func:`~mmsdt.snn.spike_linear` is about to run
  the conv / linear ``layer`` on ``x``;
* ``on_matmul(a, b)``: :func:`~mmsdt.snn.spike_matmul` is about to multiply ``a @ b``.

Observers are registered per thread (:func:`observing`, :func:`start_observing`): a model
run in another thread is not seen. While at least one observer is active in a thread, the
outputs of watched neurons are entered in that thread's spike registry, so that any consumer
can ask :func:`spike_source` whether a tensor holds spikes, from which neuron and with which
``norm``; :func:`~mmsdt.snn.spike_layout` carries the entry through layout-only ops, and views
(``reshape``, ``flatten``) of a registered tensor are found through their base. The registry
holds weak references only: it keeps no tensor alive, and a freed tensor can never be mistaken
for a spike.

A neuron's output becomes integer counts in one place, :func:`emitted_counts` (and, for a
consumer's input, :func:`spike_counts`). With a time axis the T time steps are folded
T-major into the batch (:mod:`mmsdt.snn.time_axis`), so these counts hold every step and
every sum over them is a sum over T; observers that need T itself read
:func:`~mmsdt.snn.current_time_steps` while the model runs (the energy counter and the
recorder do).

:class:`HookSet` is the hook-owning base: every forward / forward-pre hook it registers is
removed by :meth:`HookSet.close` (or on leaving its ``with`` block), so no hook outlives it.
"""
import contextlib
import threading
import weakref
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .neuron import MultiSpike
from .spike_train import SpikeTrain


def is_spiking_neuron(module: nn.Module) -> bool:
    """A :class:`MultiSpike`, or any module declaring ``emits_spikes = True`` whose output is
    ``count / module.norm`` (e.g. a multi-step LIF: binary spikes per time step, norm 1)."""
    return isinstance(module, MultiSpike) or getattr(module, 'emits_spikes', False) is True


@dataclass(frozen=True)
class SpikeSource:
    """Where a spike tensor came from.

    Attributes:
        neuron: the module that emitted it (``None`` for a :class:`SpikeTrain` whose
            neuron is not watched by any observer).
        norm: the divisor of the emitted counts (the tensor holds ``count / norm``).
    """
    neuron: Optional[nn.Module]
    norm: float


class _ThreadState(threading.local):
    """The observers and the spike registry of one thread."""

    def __init__(self):
        self.observers: List['SpikeObserver'] = []
        # id(tensor or SpikeTrain) -> (weak reference, source)
        self.spikes: Dict[int, Tuple[weakref.ref, SpikeSource]] = {}


_state = _ThreadState()


# ---------------------------------------------------------------------- registration
def active_observers() -> Tuple['SpikeObserver', ...]:
    """The observers registered in the current thread, in registration order."""
    return tuple(_state.observers)


def start_observing(observer: 'SpikeObserver') -> None:
    """Register ``observer`` for the current thread (until :func:`stop_observing`).

    Raises:
        ValueError: ``observer`` is already registered in this thread.
    """
    if any(o is observer for o in _state.observers):
        raise ValueError(f'{type(observer).__name__} is already observing in this thread')
    _state.observers.append(observer)


def stop_observing(observer: 'SpikeObserver') -> None:
    """Unregister ``observer`` from the current thread (no-op if it is not registered).

    The thread's spike registry is emptied when its last observer stops."""
    _state.observers = [o for o in _state.observers if o is not observer]
    if not _state.observers:
        _state.spikes = {}


@contextlib.contextmanager
def observing(observer: 'SpikeObserver') -> Iterator['SpikeObserver']:
    """Register ``observer`` for the current thread inside the ``with`` block.

    Example:
        >>> with observing(my_observer):
        ...     model(x)  # my_observer.on_linear / on_matmul hear every spike consumer
    """
    start_observing(observer)
    try:
        yield observer
    finally:
        stop_observing(observer)


def notify_linear(layer: nn.Module, x, will_call_module: bool) -> None:
    """Tell the current thread's observers that ``layer`` is about to consume ``x``
    (called by :func:`~mmsdt.snn.spike_linear`)."""
    for observer in tuple(_state.observers):
        observer.on_linear(layer, x, will_call_module)


def notify_matmul(a, b) -> None:
    """Tell the current thread's observers that ``a @ b`` is about to be computed (called by
    :func:`~mmsdt.snn.spike_matmul`)."""
    for observer in tuple(_state.observers):
        observer.on_matmul(a, b)


# ---------------------------------------------------------------------- spike registry
def mark_spikes(x, neuron: Optional[nn.Module], norm: Optional[float] = None) -> bool:
    """Enter ``x`` (a tensor or :class:`SpikeTrain`) in the current thread's spike registry as
    emitted by ``neuron`` with ``norm`` (default: ``neuron.norm``, or the train's).

    Returns whether it was entered: only while an observer is active in this thread."""
    if not _state.observers:
        return False
    if norm is None:
        norm = x.norm if isinstance(x, SpikeTrain) else getattr(neuron, 'norm', 1.0)
    spikes = _state.spikes
    key = id(x)
    spikes[key] = (weakref.ref(x, lambda _, k=key, d=spikes: d.pop(k, None)),
                   SpikeSource(neuron, float(norm)))
    return True


def _lookup(x) -> Optional[SpikeSource]:
    entry = _state.spikes.get(id(x))
    if entry is not None and entry[0]() is x:
        return entry[1]
    return None


def spike_source(x) -> Optional[SpikeSource]:
    """The :class:`SpikeSource` of a spike tensor, ``None`` for an analog one.

    A :class:`SpikeTrain` is always spikes (its neuron is known if it was watched); a tensor
    is spikes if it, or the base it is a view of, was emitted by a watched neuron while
    observing, or carried from one by :func:`~mmsdt.snn.spike_layout`."""
    if isinstance(x, SpikeTrain):
        return _lookup(x) or SpikeSource(None, x.norm)
    if not _state.spikes or not isinstance(x, torch.Tensor):
        return None
    found = _lookup(x)
    if found is None and x._base is not None:
        found = _lookup(x._base)
    return found


def carry_spike_source(x, out) -> None:
    """``out`` is a layout-only transform of ``x``: it inherits ``x``'s registry entry."""
    if not _state.spikes:
        return
    source = spike_source(x)
    if source is not None and (source.neuron is not None or not isinstance(out, SpikeTrain)):
        mark_spikes(out, source.neuron, source.norm)


def emitted_counts(neuron: nn.Module, output) -> torch.Tensor:
    """The integer spike counts a neuron's ``output`` stands for (same dtype as the maps /
    output): the sum of a :class:`SpikeTrain`'s maps, else ``round(output * neuron.norm)``."""
    if isinstance(output, SpikeTrain):
        return output.counts()
    return torch.round(output.detach() * neuron.norm)


def spike_counts(x) -> Optional[Tuple[torch.Tensor, float]]:
    """``(integer counts as float64, norm)`` of a consumer's spike input, ``None`` for an
    analog tensor (see :func:`spike_source`)."""
    if isinstance(x, SpikeTrain):
        return x.counts().double(), x.norm
    source = spike_source(x)
    if source is None:
        return None
    return torch.round(x.detach().double() * source.norm), source.norm


# ---------------------------------------------------------------------- hooks and observers
class HookSet:
    """Forward and forward-pre hooks on a model's modules, removed all together.

    :meth:`close` (also called on leaving a ``with`` block, after an exception too) removes
    every hook registered through :meth:`add_forward_hook` / :meth:`add_forward_pre_hook`.
    """

    def __init__(self):
        self._handles: List[RemovableHandle] = []

    def add_forward_hook(self, module: nn.Module, fn: Callable) -> RemovableHandle:
        """``module.register_forward_hook(fn)``, removed on :meth:`close`."""
        handle = module.register_forward_hook(fn)
        self._handles.append(handle)
        return handle

    def add_forward_pre_hook(self, module: nn.Module, fn: Callable) -> RemovableHandle:
        """``module.register_forward_pre_hook(fn)``, removed on :meth:`close`."""
        handle = module.register_forward_pre_hook(fn)
        self._handles.append(handle)
        return handle

    @property
    def num_hooks(self) -> int:
        """Hooks currently registered by this set."""
        return len(self._handles)

    def close(self) -> None:
        """Remove every hook of this set."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SpikeObserver(HookSet):
    """Base class of everything that watches a spiking model run.

    Subclasses override the events they need (all default to doing nothing):
    :meth:`on_spike`, :meth:`on_linear`, :meth:`on_matmul`. An observer hears the consumer
    events of the threads it is registered in (:meth:`start`, or :func:`observing`) and the
    spikes of the neurons it watches (:meth:`watch_neurons`) while registered.
    :meth:`track_modules` keeps the name of the module being run, for naming matmuls.
    ``with observer:`` registers it if needed; :meth:`close` unregisters it and removes its
    hooks.

    Example:
        >>> class CountSpikes(SpikeObserver):
        ...     def __init__(self, model):
        ...         super().__init__()
        ...         self.total = 0.0
        ...         self.watch_neurons(model)
        ...     def on_spike(self, neuron, output):
        ...         self.total += float(emitted_counts(neuron, output).sum())
        >>> with CountSpikes(model) as obs:
        ...     model(x)
    """

    def __init__(self):
        super().__init__()
        self._module_names: Dict[int, str] = {}
        self._module_stack: List[str] = []
        self._matmul_index: Dict[str, int] = {}
        self._root_name = ''

    # ------------------------------------------------------------------ events
    def on_spike(self, neuron: nn.Module, output) -> None:
        """A watched ``neuron`` emitted ``output`` (``count / norm`` or a SpikeTrain)."""

    def on_linear(self, layer: nn.Module, x, will_call_module: bool) -> None:
        """:func:`~mmsdt.snn.spike_linear` is about to run ``layer`` on ``x``;
        ``will_call_module``: it will call ``layer`` itself (its forward hooks fire)."""

    def on_matmul(self, a, b) -> None:
        """:func:`~mmsdt.snn.spike_matmul` is about to compute ``a @ b``."""

    # ------------------------------------------------------------------ setup
    def watch_neurons(self, model: nn.Module,
                      select: Optional[Callable[[str, nn.Module], bool]] = None
                      ) -> List[Tuple[str, nn.Module]]:
        """Hook the spiking neurons of ``model`` (those ``select(name, module)`` accepts;
        default: every :func:`is_spiking_neuron`). While this observer is registered in the
        running thread, each output is entered in the spike registry and passed to
        :meth:`on_spike`. Returns the watched ``(name, neuron)`` pairs."""
        watched = [(n, m) for n, m in model.named_modules()
                   if is_spiking_neuron(m) and (select is None or select(n, m))]
        for _, module in watched:
            self.add_forward_hook(module, self._spike_hook)
        return watched

    def _spike_hook(self, module: nn.Module, inputs, output) -> None:
        if self.observing:
            mark_spikes(output, module)
            self.on_spike(module, output)

    def track_modules(self, model: nn.Module) -> None:
        """Hook every module of ``model`` to know which one is running
        (:meth:`module_name`, :meth:`matmul_name`)."""
        self._module_names = {id(m): n for n, m in model.named_modules()}
        self._root_name = type(model).__name__
        for m in model.modules():
            self.add_forward_pre_hook(m, self._enter)
            self.add_forward_hook(m, self._leave)

    def _enter(self, module, inputs) -> None:
        name = self._module_names.get(id(module), type(module).__name__)
        self._module_stack.append(name)
        self._matmul_index[name] = 0

    def _leave(self, module, inputs, output) -> None:
        if self._module_stack:
            self._module_stack.pop()

    def module_name(self, module: nn.Module) -> str:
        """Qualified name of ``module`` in the tracked model (its class name if not there)."""
        return self._module_names.get(id(module), type(module).__name__)

    def matmul_name(self) -> str:
        """Name of the matmul being observed: ``<running module>.matmul<i>``, ``i`` its index
        within one forward of that module (needs :meth:`track_modules`)."""
        owner = self._module_stack[-1] if self._module_stack else self._root_name
        index = self._matmul_index.get(owner, 0)
        self._matmul_index[owner] = index + 1
        return f'{owner}.matmul{index}' if owner else f'matmul{index}'

    # ------------------------------------------------------------------ lifecycle
    @property
    def observing(self) -> bool:
        """Whether this observer is registered in the current thread."""
        return any(o is self for o in _state.observers)

    def start(self) -> 'SpikeObserver':
        """Register for the current thread (see :func:`start_observing`); returns self."""
        start_observing(self)
        return self

    def close(self) -> None:
        """Unregister from the current thread and remove every hook."""
        stop_observing(self)
        super().close()

    def __enter__(self) -> 'SpikeObserver':
        if not self.observing:
            self.start()
        return self
