"""Synaptic operations, MACs and an energy estimate, counted where spikes meet weights.

Every spike consumer of mmsdt runs through :func:`~mmsdt.snn.spike_linear` or
:func:`~mmsdt.snn.spike_matmul`. :class:`SynapticOpCounter`, a
:class:`~mmsdt.snn.SpikeObserver`, listens there (and on plain conv / linear modules that run
on analog tensors) and records, per consuming layer:

* ``macs``: the multiply-accumulates of the equivalent ANN layer at the real input size
  (conv: ``k_h k_w C_in C_out H_out W_out / groups``; Linear / Conv1d ``C_in C_out tokens``;
  matmul ``N K M`` per batch element) — the paper's FLOPs;
* for a spike-fed layer, ``sops``: the **exact** number of accumulates spike-driven execution
  performs, ``sum over input elements of (integer count x fan-out)``, where the fan-out is the
  number of weights the element meets (border taps that fall into zero padding meet none).
  For a product of two spike tensors every pair of binary maps is multiplied, so
  ``sops = sum_k (sum_n s_a[n, k]) (sum_m s_b[k, m])``;
* the mean integer count of the spike input and its element count;
* an optional memory-traffic estimate (weights read, input read, output written), kept apart.

With a time axis (frames folded T-major into the batch, :mod:`mmsdt.snn.time_axis`) every
count is summed over all T time steps: the folded batch holds them all. The counter records
the T of the forward calls it saw (:attr:`EnergyReport.time_steps`); per-image figures divide
by the number of samples B, not by T * B, and :meth:`EnergyReport.describe` says
"summed over T = k time steps".

Energy (:meth:`EnergyReport.totals`): analog-fed layers cost ``macs x E_MAC``, spike-fed layers
``sops x E_AC``; BN, residual additions, pooling and the neurons themselves are not counted
(BN folds into the convs for inference, see the design notes). Integer mode and spike-driven
mode give the same counts. Nothing here imports an OpenMMLab package.
"""
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import _SpikeInput
from .observe import SpikeObserver, is_spiking_neuron, spike_counts
from .time_axis import current_time_steps

ENERGY_PRESETS: Dict[str, Dict[str, float]] = {
    # Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: fp32 mult 3.7 + add 0.9 pJ.
    # The constants of the SDT papers (E_MAC 4.6 pJ, E_AC 0.9 pJ).
    '45nm-fp32': dict(e_mac=4.6, e_ac=0.9),
    # the same source for fp16 (mult 1.1 + add 0.4) and int8 (mult 0.2 + add 0.03)
    '45nm-fp16': dict(e_mac=1.5, e_ac=0.4),
    '45nm-int8': dict(e_mac=0.23, e_ac=0.03),
}
"""Energy per operation in pJ: ``e_mac`` for a multiply-accumulate, ``e_ac`` for an
accumulate."""

DEFAULT_PRESET = '45nm-fp32'
"""The preset whose constants are the defaults of :class:`EnergyReport` and
:meth:`SynapticOpCounter.report` (the SDT papers')."""

_LINEAR_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


@dataclass
class MemoryCost:
    """Bytes per stored value and pJ per byte for the memory-traffic estimate.

    Defaults: fp32 weights and analog activations, spike counts as one byte each, and
    spikingjelly 2.0's default memory cost of 24.96 pJ per byte.
    """
    weight_bytes: float = 4.0
    activation_bytes: float = 4.0
    spike_bytes: float = 1.0
    pj_per_byte: float = 24.96


@dataclass
class LayerOps:
    """What one consuming layer did, summed over all recorded calls.

    Attributes:
        name: qualified module name (matmuls: ``<module>.matmul<i>``, ``i`` the call index
            inside one forward of that module).
        op: ``Conv2d``, ``Conv1d``, ``Linear``, ``ConvTranspose2d``, ``matmul``...
        spike_input: whether the input was a spike tensor (billed as SOPs) or analog (MACs).
        calls: recorded calls.
        input_shape: the input shape of the last call (for a matmul: the first operand).
        input_elements: input elements over all calls (for a matmul: of the spike operands).
        spike_sum: sum of the integer spike counts of the spike input(s).
        macs: multiply-accumulates of the equivalent ANN layer.
        sops: exact synaptic operations (0 for analog layers).
        weight_elements: weights read per call (0 for a matmul).
        bytes_read: weights + input bytes read (memory estimate; a matmul reads both
            operands, spike operands at ``spike_bytes`` per value).
        bytes_written: output bytes written (memory estimate).
    """
    name: str
    op: str
    spike_input: bool
    calls: int = 0
    input_shape: Tuple[int, ...] = field(default_factory=tuple)
    input_elements: int = 0
    spike_sum: float = 0.0
    macs: float = 0.0
    sops: float = 0.0
    weight_elements: int = 0
    bytes_read: float = 0.0
    bytes_written: float = 0.0

    @property
    def mean_count(self) -> float:
        """Mean integer spike count of the spike input, E[s] (0 for analog layers)."""
        return self.spike_sum / self.input_elements if self.input_elements else 0.0

    def energy_pj(self, e_mac: float, e_ac: float) -> float:
        """Compute energy of this layer in pJ: ``sops x e_ac`` or ``macs x e_mac``."""
        return self.sops * e_ac if self.spike_input else self.macs * e_mac


@dataclass
class EnergyReport:
    """Per-layer operation counts over ``num_images`` images (samples; a sample with T time
    steps is one image) and the energy they imply (``e_mac`` / ``e_ac`` in pJ; defaults:
    ``ENERGY_PRESETS[DEFAULT_PRESET]``). ``time_steps``: T of the recorded forward calls
    (1 without a time axis); every count of a layer inside the time axis is summed over
    them."""
    layers: List[LayerOps]
    num_images: int
    e_mac: float = ENERGY_PRESETS[DEFAULT_PRESET]['e_mac']
    e_ac: float = ENERGY_PRESETS[DEFAULT_PRESET]['e_ac']
    memory: MemoryCost = field(default_factory=MemoryCost)
    time_steps: int = 1

    def describe(self) -> str:
        """What the per-image figures are: ``'per image'``, or ``'per image, summed over
        T = k time steps'``."""
        if self.time_steps == 1:
            return 'per image'
        return (f'per image, summed over T = {self.time_steps} time steps (layers after the '
                f'time average, e.g. a classifier, run once)')

    def layer_rows(self) -> List[dict]:
        """One dict per layer, per image: counts, energy (mJ) and memory estimate (mJ)."""
        n = max(self.num_images, 1)
        rows = []
        for layer in self.layers:
            row = dict(name=layer.name, module=module_group(layer.name), op=layer.op,
                       input='spikes' if layer.spike_input else 'analog',
                       input_shape=list(layer.input_shape), calls=layer.calls,
                       mean_count=layer.mean_count, macs=layer.macs / n, sops=layer.sops / n,
                       energy_mJ=layer.energy_pj(self.e_mac, self.e_ac) / n * 1e-9,
                       memory_mJ=(layer.bytes_read + layer.bytes_written)
                       * self.memory.pj_per_byte / n * 1e-9)
            rows.append(row)
        return rows

    def totals(self) -> Dict[str, dict]:
        """Per module group (``backbone``, ``neck``, ...) and ``'total'``, per image: MACs of
        analog-fed layers, SOPs, MACs of the equivalent ANN, energy and memory estimate (mJ)."""
        out: Dict[str, dict] = OrderedDict()
        for row in self.layer_rows():
            for key in (row['module'], 'total'):
                agg = out.setdefault(key, dict(analog_macs=0.0, sops=0.0, ann_macs=0.0,
                                               energy_mJ=0.0, memory_mJ=0.0))
                agg['analog_macs'] += row['macs'] if row['input'] == 'analog' else 0.0
                agg['sops'] += row['sops']
                agg['ann_macs'] += row['macs']
                agg['energy_mJ'] += row['energy_mJ']
                agg['memory_mJ'] += row['memory_mJ']
        if 'total' in out:
            out.move_to_end('total')
        return out

    def to_dict(self) -> dict:
        """Everything as plain JSON-ready data (constants, layers, totals)."""
        return dict(num_images=self.num_images, e_mac_pJ=self.e_mac, e_ac_pJ=self.e_ac,
                    memory=asdict(self.memory), per_image=True, time_steps=self.time_steps,
                    counted=self.describe(), layers=self.layer_rows(), totals=self.totals())


def module_group(name: str) -> str:
    """The top-level module of a qualified name (``backbone``, ``neck``, ``rpn_head`` ...)."""
    return name.split('.')[0] if '.' in name else name


def _group_sum(s: torch.Tensor, groups: int) -> torch.Tensor:
    """(B, C, *sp) -> (B, groups, *sp): counts summed within each channel group."""
    return s.unflatten(1, (groups, s.shape[1] // groups)).sum(2)


def conv_fanout_sum(layer: nn.Module, s: torch.Tensor) -> float:
    """``sum over output elements of sum over the weight taps of the input count there``
    for a conv / deconv, i.e. the accumulates spike-driven mode performs on counts ``s``."""
    groups = layer.groups
    per_group_out = layer.out_channels // groups
    g = _group_sum(s.double(), groups)
    dims = g.dim() - 2
    ones = torch.ones(groups, 1, *layer.kernel_size, dtype=torch.float64, device=s.device)
    if isinstance(layer, nn.ConvTranspose2d):
        out = F.conv_transpose2d(g, ones, None, layer.stride, layer.padding,
                                 layer.output_padding, groups, layer.dilation)
        return float(out.sum()) * per_group_out
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    padding = layer.padding
    if layer.padding_mode != 'zeros':
        g = F.pad(g, layer._reversed_padding_repeated_twice, mode=layer.padding_mode)
        padding = 0
    out = conv(g, ones, None, layer.stride, padding, layer.dilation, groups)
    return float(out.sum()) * per_group_out


def _conv_out_shape(layer: nn.Module, shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """Spatial output size of a conv / deconv for an input of ``shape`` (B, C, *spatial)."""
    spatial = shape[2:]
    out = []
    for i, size in enumerate(spatial):
        k, st, d = layer.kernel_size[i], layer.stride[i], layer.dilation[i]
        p = layer.padding[i] if isinstance(layer.padding, tuple) else 0
        if isinstance(layer, nn.ConvTranspose2d):
            out.append((size - 1) * st - 2 * p + d * (k - 1) + layer.output_padding[i] + 1)
        elif layer.padding == 'same':
            out.append(size)
        elif layer.padding == 'valid':
            out.append((size - d * (k - 1) - 1) // st + 1)
        else:
            out.append((size + 2 * p - d * (k - 1) - 1) // st + 1)
    return tuple(out)


def linear_layer_ops(layer: nn.Module, x_shape: Tuple[int, ...],
                     counts: Optional[torch.Tensor]) -> Tuple[float, float, int]:
    """``(macs, sops, output elements)`` of one call of a Linear / conv layer.

    ``counts``: the integer counts of a spike input (``None`` for an analog input: 0 SOPs).
    """
    if isinstance(layer, nn.Linear):
        rows = math.prod(x_shape[:-1])
        macs = rows * layer.in_features * layer.out_features
        sops = float(counts.sum()) * layer.out_features if counts is not None else 0.0
        return float(macs), sops, rows * layer.out_features
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
        batch, out_sp = x_shape[0], _conv_out_shape(layer, x_shape)
        out_elems = batch * layer.out_channels * math.prod(out_sp)
        if isinstance(layer, nn.ConvTranspose2d):  # every input element meets C_out/g k^2 taps
            macs = batch * math.prod(x_shape[1:]) * (layer.out_channels // layer.groups) \
                * math.prod(layer.kernel_size)
        else:
            macs = out_elems * (layer.in_channels // layer.groups) * math.prod(layer.kernel_size)
        sops = conv_fanout_sum(layer, counts) if counts is not None else 0.0
        return float(macs), sops, out_elems
    raise TypeError(f'cannot count the operations of {type(layer).__name__}')


def matmul_ops(a_shape, b_shape, a_counts: Optional[torch.Tensor],
               b_counts: Optional[torch.Tensor]) -> Tuple[float, float, int]:
    """``(macs, sops, output elements)`` of ``a @ b`` (batch dims broadcast)."""
    batch = torch.broadcast_shapes(tuple(a_shape[:-2]), tuple(b_shape[:-2]))
    n, k, m = a_shape[-2], a_shape[-1], b_shape[-1]
    nb = math.prod(batch)
    macs = float(nb * n * k * m)
    if a_counts is not None and b_counts is not None:
        col = a_counts.sum(-2)  # (..., K): sum over n
        row = b_counts.sum(-1)  # (..., K): sum over m
        sops = float((col * row).sum())  # every pair of binary maps (batch dims broadcast)
    elif a_counts is not None:
        sops = float(a_counts.sum()) * m * (nb // max(math.prod(a_shape[:-2]), 1))
    elif b_counts is not None:
        sops = float(b_counts.sum()) * n * (nb // max(math.prod(b_shape[:-2]), 1))
    else:
        sops = 0.0
    return macs, sops, nb * n * m


class SynapticOpCounter(SpikeObserver):
    """Count MACs and exact SOPs of every consuming layer while ``model`` runs.

    A :class:`~mmsdt.snn.SpikeObserver` registered in the constructing thread from
    construction to :meth:`close`: use it as a context manager around forward passes
    (integer or spike-driven mode); hooks and the registration end on exit. Then
    :meth:`report` gives an :class:`EnergyReport`.

    Args:
        model: the module whose layers are named in the report.
        memory (MemoryCost, optional): settings of the memory-traffic estimate.

    Raises:
        ValueError: ``model`` holds no spiking neuron (:class:`MultiSpike` or a module with
            ``emits_spikes = True``, see :func:`is_spiking_neuron`): an energy report of a
            model without spiking layers is not what was asked for.

    Example:
        >>> with SynapticOpCounter(model) as counter:
        ...     model(images)
        >>> report = counter.report(num_images=len(images))
    """

    def __init__(self, model: nn.Module, memory: Optional[MemoryCost] = None):
        super().__init__()
        self.model = model
        self.memory = memory or MemoryCost()
        self.layers: Dict[Tuple[str, bool], LayerOps] = OrderedDict()
        self._pending = set()  # plain layers about to be called by spike_linear (skip once)
        self._time_steps = set()  # T of the recorded calls (1: no time axis)
        if not any(is_spiking_neuron(m) for m in model.modules()):
            raise ValueError(f'{type(model).__name__} has no spiking layer (no MultiSpike and no '
                             'module with emits_spikes): there are no spikes to count')
        self.watch_neurons(model)
        self.track_modules(model)
        for m in model.modules():
            if isinstance(m, _LINEAR_TYPES):
                self.add_forward_hook(m, self._plain_layer)
        self.start()

    # ------------------------------------------------------------------ recording
    def _bytes(self, shape, spike: bool) -> float:
        return math.prod(shape) * (self.memory.spike_bytes if spike
                                   else self.memory.activation_bytes)

    def _record(self, name: str, op: str, spike: bool, x_shape, counts, macs, sops, out_elems,
                weight_elements: int, in_bytes: float) -> None:
        self._time_steps.add(current_time_steps() or 1)
        rec = self.layers.get((name, spike))
        if rec is None:
            rec = self.layers[(name, spike)] = LayerOps(name=name, op=op, spike_input=spike)
        rec.calls += 1
        rec.input_shape = tuple(x_shape)
        if counts is not None:
            rec.input_elements += counts.numel()
            rec.spike_sum += float(counts.sum())
        elif not spike:
            rec.input_elements += math.prod(x_shape)
        rec.macs += macs
        rec.sops += sops
        rec.weight_elements = weight_elements
        rec.bytes_read += weight_elements * self.memory.weight_bytes + in_bytes
        rec.bytes_written += out_elems * self.memory.activation_bytes

    def _weights(self, layer: nn.Module) -> int:
        return sum(p.numel() for p in (layer.weight, getattr(layer, 'bias', None))
                   if p is not None)

    def on_linear(self, layer: nn.Module, x, will_call_module: bool) -> None:
        """Called by :func:`~mmsdt.snn.spike_linear` before it runs ``layer`` on ``x``."""
        found = spike_counts(x)
        counts = found[0] if found else None
        shape = tuple(x.shape)
        macs, sops, out_elems = linear_layer_ops(layer, shape, counts)
        spike = counts is not None
        self._record(self.module_name(layer), type(layer).__name__, spike, shape, counts, macs,
                     sops, out_elems, self._weights(layer), self._bytes(shape, spike))
        if will_call_module:
            self._pending.add(id(layer))

    def on_matmul(self, a, b) -> None:
        """Called by :func:`~mmsdt.snn.spike_matmul` before it multiplies ``a @ b``."""
        fa, fb = spike_counts(a), spike_counts(b)
        ca, cb = (fa[0] if fa else None), (fb[0] if fb else None)
        a_shape, b_shape = tuple(a.shape), tuple(b.shape)
        macs, sops, out_elems = matmul_ops(a_shape, b_shape, ca, cb)
        spike = ca is not None or cb is not None
        counts = torch.cat([c.flatten() for c in (ca, cb) if c is not None]) if spike else None
        in_bytes = self._bytes(a_shape, ca is not None) + self._bytes(b_shape, cb is not None)
        self._record(self.matmul_name(), 'matmul', spike, a_shape, counts, macs, sops,
                     out_elems, 0, in_bytes)

    def _plain_layer(self, module, inputs, output) -> None:
        """Forward hook of conv / linear modules: layers not routed through spike_linear."""
        if id(module) in self._pending:
            self._pending.discard(id(module))
            return
        if isinstance(module, _SpikeInput):  # spiking layers report through spike_linear
            return
        if self.observing:
            self.on_linear(module, inputs[0], will_call_module=False)

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Forget every count (hooks stay)."""
        self.layers.clear()
        self._time_steps.clear()

    def report(self, num_images: int, e_mac: Optional[float] = None,
               e_ac: Optional[float] = None) -> EnergyReport:
        """The counts so far as an :class:`EnergyReport` over ``num_images`` images (with a
        time axis: samples B, not T * B); ``e_mac`` / ``e_ac`` in pJ default to
        ``ENERGY_PRESETS[DEFAULT_PRESET]``.

        Raises:
            ValueError: ``num_images`` is not positive, or the recorded calls had different
                numbers of time steps (per-image figures would mix them).
        """
        if num_images <= 0:
            raise ValueError(f'num_images must be positive, got {num_images}')
        steps = self._time_steps - {1}  # 1: layers after the time average (the head) too
        if len(steps) > 1:
            raise ValueError(f'the recorded forward calls had different numbers of time steps '
                             f'{sorted(steps)}; report each T separately')
        preset = ENERGY_PRESETS[DEFAULT_PRESET]
        return EnergyReport(list(self.layers.values()), int(num_images),
                            preset['e_mac'] if e_mac is None else e_mac,
                            preset['e_ac'] if e_ac is None else e_ac, self.memory,
                            time_steps=next(iter(steps), 1))
