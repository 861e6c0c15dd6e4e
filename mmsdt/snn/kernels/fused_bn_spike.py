"""Fused BatchNorm + neuron training kernels: one memory pass where eager torch takes five to ten.

In a training step of E-SpikeFormer most of the time outside the convolutions goes to
element-wise passes over large activation maps: the neuron's clamp, round, divide and mask,
BatchNorm's statistics, normalisation and backward, the dtype casts of autocast and the
packing of spikes saved for backward. On CPU these passes run at memory bandwidth, so their
number is what counts. This module computes

* the neuron ``s = round(clamp(u, 0, D)) / norm`` in **one** pass that writes ``s`` (in the
  dtype its consumer needs: bfloat16 under autocast, exact since ``s`` is a multiple of
  ``1 / norm``) and a one-byte *code* per element (the integer count in bits 0-6, the
  straight-through mask in bit 7); backward is one pass over the incoming gradient and the
  code;
* BatchNorm followed by the neuron (``s = S(BN(x))``, the pair in front of most spikes) in one
  statistics pass and one output pass, never writing the potential; backward in one reduction
  pass and one output pass (the straight-through mask is read from the code, BN's own formula
  otherwise);
* BatchNorm alone (:func:`batch_norm`, the BNs whose output is not spiked) in the same way.

Rounding and the straight-through mask are the neuron's rule of :mod:`mmsdt.snn.spike_rule`,
called from the kernel bodies (the eager neuron calls the same functions).

The code also replaces the spike tensor that the next convolution saves for backward
(:func:`~mmsdt.snn.compact_spike_storage`), so one byte per element is kept in all.

The kernels are plain torch functions compiled by ``torch.compile`` (inductor's C++ code
generation on CPU) with dynamic shapes, lazily, once per process and kernel variant; inductor
caches the compiled code on disk, so later processes load it. They are used only when it is
safe to leave the unfused modules' path:

* CPU tensors (on GPU the eager modules run: kernels untested there are not enabled) of
  at least ``MIN_FUSED_NUMEL`` elements (below it a fused call's fixed overhead costs more
  than the eager passes save);
* gradients enabled and required (training); inference keeps the eager path that
  ``mmsdt.deployment.prepare_for_inference`` compiles and folds;
* no forward hook on the neuron or the BN (recorders and counters see exactly what they
  see without fusion); plain ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` only (SyncBN and other
  norms keep their own forward); ``D <= 127``;
* not disabled by :func:`use_fused_kernels` or the environment variable
  ``MMSDT_FUSED_KERNELS=0``.

If compilation fails (no C++ compiler, an unsupported torch build), a warning says why and the
same functions run in eager torch for the rest of the process: results are the same, only the
speed is lost. :func:`compile_failure` says why, :func:`kernel_calls` counts the compiled and
the eager calls of each kernel. Forward outputs equal the unfused modules' in float64 and gradients agree to
float64 rounding (tests); in float32 a potential on a rounding tie may round either way, since
BN's normalisation is evaluated in a different order.
"""
import collections
import contextlib
import os
import threading
import types
import warnings
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import nn

from ..spike_rule import round_counts, straight_through_grad, straight_through_mask

MAX_FUSED_VALUE = 127  # the count must fit in bits 0-6 of the code
# Below this many elements eager torch is as fast or faster: a fused call costs ~0.2 ms of
# fixed overhead (autograd function, dynamo guards, layout bookkeeping); measured break-even
# of the neuron and of BN + neuron between 64K and 256K elements on 2 AVX-512 cores (fp32 and
# bf16), and the toy segmentation job (maps of 100K-200K elements) was slower at 1 << 17
MIN_FUSED_NUMEL = 1 << 18
_MASK_BIT = 128

_state = threading.local()
_compile_broken: Dict[str, str] = {}  # why compilation failed, if it did
_kernels: Dict[tuple, Callable] = {}
_kernel_lock = threading.Lock()
_calls: Dict[Tuple[str, str], int] = collections.Counter()  # (kernel, 'compiled' / 'eager')


def _env_enabled() -> bool:
    return os.environ.get('MMSDT_FUSED_KERNELS', '1').strip().lower() not in ('0', 'false', 'no',
                                                                              'off')


def fused_kernels_enabled() -> bool:
    """Whether the fused kernels may be used in this thread (see :func:`use_fused_kernels`)."""
    enabled = getattr(_state, 'enabled', None)
    return _env_enabled() if enabled is None else enabled


@contextlib.contextmanager
def use_fused_kernels(enabled: bool = True):
    """Enable or disable the fused neuron kernels inside the ``with`` block (this thread).

    ``use_fused_kernels(False)`` runs the unfused modules exactly as without this module, e.g.
    to compare or to debug.
    """
    previous = getattr(_state, 'enabled', None)
    _state.enabled = bool(enabled)
    try:
        yield
    finally:
        _state.enabled = previous


def _has_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks
                or nn.modules.module._global_forward_hooks
                or nn.modules.module._global_forward_pre_hooks)


def _fusion_on() -> bool:
    return fused_kernels_enabled() and not torch.compiler.is_compiling()


def _neuron_fusable(neuron: nn.Module) -> bool:
    return (neuron.max_value <= MAX_FUSED_VALUE and not getattr(neuron, 'spike_driven', False)
            and not _has_hooks(neuron))


def _trainable_cpu_input(x: torch.Tensor) -> bool:
    return (x.device.type == 'cpu' and x.is_floating_point()
            and x.numel() >= max(MIN_FUSED_NUMEL, 1) and torch.is_grad_enabled())


def can_fuse(u: torch.Tensor, neuron: nn.Module) -> bool:
    """Whether ``neuron(u)`` may run through the fused kernel now (see the module doc)."""
    return (_trainable_cpu_input(u) and u.requires_grad and _fusion_on()
            and _neuron_fusable(neuron))


def _bn_fusable(x: torch.Tensor, norm_layer: nn.Module) -> bool:
    if type(norm_layer) not in (nn.BatchNorm1d, nn.BatchNorm2d) or not norm_layer.affine:
        return False
    if x.dim() not in (2, 3, 4) or x.shape[1] != norm_layer.num_features:
        return False  # BN raises its own error
    if not _trainable_cpu_input(x) or _has_hooks(norm_layer):
        return False
    if _uses_batch_stats(norm_layer) and x.numel() // x.shape[1] <= 1:
        return False  # BN's own "more than 1 value per channel" error
    return x.requires_grad or norm_layer.weight.requires_grad or norm_layer.bias.requires_grad


def can_fuse_batch_norm(x: torch.Tensor, norm_layer: nn.Module) -> bool:
    """Whether ``norm_layer(x)`` may run through the fused BN kernel now."""
    return _fusion_on() and _bn_fusable(x, norm_layer)


def can_fuse_norm(x: torch.Tensor, norm_layer: nn.Module, neuron: nn.Module) -> bool:
    """Whether ``neuron(norm_layer(x))`` may run as one fused BN + neuron now."""
    return _fusion_on() and _neuron_fusable(neuron) and _bn_fusable(x, norm_layer)


def _uses_batch_stats(bn: nn.Module) -> bool:
    return bn.training or bn.running_mean is None


# ---------------------------------------------------------------------------- layouts
# The kernels take 1-D tensors that alias the activations' storage in memory order, made with
# ``set_`` rather than as views: a view carries its base, and dynamo would then guard on the
# base's sizes (recompiling for every new spatial size or channel count).
def _dense_order(t: torch.Tensor) -> Optional[Tuple[int, ...]]:
    """The dim order in which ``t`` is contiguous (outermost first), or None."""
    order = tuple(sorted(range(t.dim()), key=lambda d: (-t.stride(d), d)))
    return order if t.permute(order).is_contiguous() else None


def _flat(t: torch.Tensor, order: Tuple[int, ...]) -> torch.Tensor:
    """``t``'s elements in the memory order ``order`` as a 1-D tensor without a view base
    (aliasing ``t`` when it is laid out in that order, else a copy)."""
    p = t.permute(order)
    if not p.is_contiguous():
        p = p.contiguous()
    flat = torch.empty(0, dtype=t.dtype, device=t.device)
    with torch.no_grad():
        flat.set_(p.untyped_storage(), p.storage_offset(), (p.numel(), ), (1, ))
    return flat


def _unflat(flat: torch.Tensor, shape: torch.Size, order: Tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`_flat`: ``flat``'s storage as a tensor of ``shape`` laid out in the
    memory order ``order``; again not a view, so that views of the result have it as base."""
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    like = flat.view([shape[d] for d in order]).permute(inverse)
    out = torch.empty(0, dtype=flat.dtype, device=flat.device)
    with torch.no_grad():
        out.set_(flat.untyped_storage(), flat.storage_offset(), like.shape, like.stride())
    return out


def _memory_order(t: torch.Tensor) -> Tuple[int, ...]:
    return _dense_order(t) or tuple(range(t.dim()))


def _channel_order(x: torch.Tensor) -> Tuple[Tuple[int, ...], bool]:
    """A memory order for BN on ``x`` (N, C, *S): channels innermost (2-D (M, C) kernels) when
    ``x`` is laid out so, else the standard order (3-D (N, C, S) kernels). Returns the order
    and whether it is channels-innermost."""
    order = _dense_order(x)
    if x.dim() == 2 or (order is not None and order[-1] == 1):
        return order or (0, 1), True
    return tuple(range(x.dim())), False


# ---------------------------------------------------------------------------- kernels
def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _counts_and_code(u, max_value: int, rounding: str, include_boundary: bool):
    """The neuron's rule (:mod:`mmsdt.snn.spike_rule`): counts and the one-byte code (count
    in bits 0-6, straight-through mask in bit 7)."""
    c = u.clamp(0, max_value)
    r = round_counts(c, rounding)
    inside = straight_through_mask(u, c, max_value, include_boundary)
    return r, torch.where(inside, r + _MASK_BIT, r).to(torch.uint8)


def _code_mask(code, dtype: torch.dtype):
    """The straight-through mask held in bit 7 of ``code``, as 0/1 in ``dtype`` (integer
    arithmetic vectorises where a bool tensor does not)."""
    return (code >> 7).to(dtype)


def _spike_forward(u, max_value: int, norm: float, rounding: str, include_boundary: bool,
                   out_dtype: torch.dtype):
    uf = u.to(_compute_dtype(u.dtype))
    r, code = _counts_and_code(uf, max_value, rounding, include_boundary)
    return (r / norm).to(out_dtype), code


def _spike_backward(grad, code, norm: float, out_dtype: torch.dtype):
    cdt = _compute_dtype(grad.dtype)
    return straight_through_grad(grad.to(cdt), _code_mask(code, cdt), norm).to(out_dtype)


def _codes_to_spikes(code, norm: float, out_dtype: torch.dtype):
    return ((code & (_MASK_BIT - 1)).to(_compute_dtype(out_dtype)) / norm).to(out_dtype)


def _per_channel(v, two_d: bool):
    return v.view(1, -1) if two_d else v.view(1, -1, 1)


def _channel_shape(flat, channels: int, inner: int, two_d: bool):
    return flat.view(-1, channels) if two_d else flat.view(-1, channels, inner)


def _bn_normalise(x, channels: int, inner: int, two_d: bool, weight, bias, mean, invstd,
                  batch_stats: bool, eps: float):
    """BN of a flat tensor read as (M, C) (``two_d``) or (N, C, inner), in the compute dtype:
    (normalised, mean, invstd, biased batch variance); ``mean`` / ``invstd`` are used as given
    unless ``batch_stats``."""
    x = _channel_shape(x, channels, inner, two_d)
    xf = x.to(_compute_dtype(x.dtype))
    dims = (0, ) if two_d else (0, 2)
    if batch_stats:
        var, mean = torch.var_mean(xf, dim=dims, correction=0)
        invstd = 1 / torch.sqrt(var + eps)
    else:
        var = invstd  # unused
    # BN's own evaluation order on CPU: x * (w * invstd) + (b - mean * w * invstd)
    alpha = invstd * weight
    beta = bias - mean * alpha
    return xf * _per_channel(alpha, two_d) + _per_channel(beta, two_d), mean, invstd, var


def _bn_forward(x, channels: int, inner: int, two_d: bool, weight, bias, mean, invstd,
                batch_stats: bool, eps: float):
    """BN alone (see :func:`_bn_normalise`): flat output in ``x``'s dtype, mean, invstd, var."""
    y, mean, invstd, var = _bn_normalise(x, channels, inner, two_d, weight, bias, mean, invstd,
                                         batch_stats, eps)
    return y.to(x.dtype).view(-1), mean, invstd, var


def _bn_spike_forward(x, channels: int, inner: int, two_d: bool, weight, bias, mean, invstd,
                      batch_stats: bool, eps: float, max_value: int, norm: float, rounding: str,
                      include_boundary: bool, out_dtype: torch.dtype):
    """BN (see :func:`_bn_normalise`) + neuron. Returns flat spikes and code, mean, invstd and
    the biased batch variance; the potential is never written."""
    u, mean, invstd, var = _bn_normalise(x, channels, inner, two_d, weight, bias, mean, invstd,
                                         batch_stats, eps)
    r, code = _counts_and_code(u, max_value, rounding, include_boundary)
    return (r / norm).to(out_dtype).view(-1), code.view(-1), mean, invstd, var


def _bn_input_grads(dy, x, two_d: bool, weight, mean, invstd, batch_stats: bool,
                    need_input_grad: bool):
    """BN's backward for the gradient ``dy`` of its output (compute dtype, channel-shaped):
    (flat dx in ``x``'s dtype or None, dweight, dbias)."""
    cdt = dy.dtype
    dims = (0, ) if two_d else (0, 2)
    centred = x.to(cdt) - _per_channel(mean, two_d)
    sum_dy = dy.sum(dims)
    dot = (dy * centred).sum(dims)
    dweight = dot * invstd
    if not need_input_grad:
        return None, dweight, sum_dy
    if batch_stats:
        count = x.numel() // x.shape[1]
        proj = dot * invstd * invstd / count
        grad_mean = sum_dy / count
        dx = (dy - centred * _per_channel(proj, two_d) - _per_channel(grad_mean, two_d)) * \
            _per_channel(invstd * weight, two_d)
    else:
        dx = dy * _per_channel(invstd * weight, two_d)
    return dx.to(x.dtype).view(-1), dweight, sum_dy


def _bn_backward(grad, x, channels: int, inner: int, two_d: bool, weight, mean, invstd,
                 batch_stats: bool, need_input_grad: bool):
    """Backward of :func:`_bn_forward` (flat grad and x)."""
    grad, x = (_channel_shape(t, channels, inner, two_d) for t in (grad, x))
    return _bn_input_grads(grad.to(_compute_dtype(x.dtype)), x, two_d, weight, mean, invstd,
                           batch_stats, need_input_grad)


def _bn_spike_backward(grad, code, x, channels: int, inner: int, two_d: bool, weight, mean,
                       invstd, batch_stats: bool, norm: float, need_input_grad: bool):
    """Backward of :func:`_bn_spike_forward` (flat grad, code and x): (flat dx or None,
    dweight, dbias)."""
    grad, code, x = (_channel_shape(t, channels, inner, two_d) for t in (grad, code, x))
    cdt = _compute_dtype(x.dtype)
    dy = straight_through_grad(grad.to(cdt), _code_mask(code, cdt), norm)
    return _bn_input_grads(dy, x, two_d, weight, mean, invstd, batch_stats, need_input_grad)


def _kernel(fn: Callable, *variant) -> Callable:
    """``torch.compile(fn)`` for one variant (dtypes, layout, flags), or ``fn`` itself when
    compilation is off. Each variant gets its own code object, hence its own compile cache
    (dynamo's recompile limit counts per code object)."""
    if _compile_broken or torch.compiler.is_compiling():
        return fn
    key = (fn.__name__, ) + variant
    kernel = _kernels.get(key)
    if kernel is None:
        with _kernel_lock:
            kernel = _kernels.get(key)
            if kernel is None:
                code = fn.__code__.replace(co_name=f'{fn.__name__}_{len(_kernels)}')
                clone = types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__,
                                           fn.__closure__)
                kernel = _kernels[key] = torch.compile(clone, dynamic=True, fullgraph=True)
    return kernel


def _count(fn: Callable, how: str) -> None:
    if not torch.compiler.is_compiling():  # inside a caller's graph nothing is "called"
        _calls[(fn.__name__.lstrip('_'), how)] += 1


def _run(fn: Callable, variant: tuple, *args):
    """Run the compiled ``fn`` (eager ``fn`` once compilation has failed in this process)."""
    kernel = _kernel(fn, *variant)
    if kernel is fn:
        _count(fn, 'eager')
        return fn(*args)
    try:
        # the kernels compute in their own dtypes; entering autocast only to leave it costs
        with (torch.autocast('cpu', enabled=False) if torch.is_autocast_enabled('cpu')
              else contextlib.nullcontext()):
            out = kernel(*args)
    except Exception as err:
        out = fn(*args)  # raises here if the inputs, not the compiler, are at fault
        _compile_broken.setdefault('reason', f'{type(err).__name__}: {err}'.split('\n')[0])
        warnings.warn('mmsdt fused neuron kernels could not be compiled '
                      f'({_compile_broken["reason"]}); running them in eager torch (same '
                      'results, slower). Set MMSDT_FUSED_KERNELS=0 to skip them.')
        _count(fn, 'eager')
        return out
    _count(fn, 'compiled')
    return out


def compile_failure() -> Optional[str]:
    """Why compiling the fused kernels failed in this process, or None."""
    return _compile_broken.get('reason')


def kernel_calls() -> Dict[str, Dict[str, int]]:
    """How often each fused kernel ran in this process, as compiled code and as its eager
    fallback: ``{kernel: {'compiled': n, 'eager': m}}`` (kernels: ``spike_forward``,
    ``spike_backward``, ``bn_forward``, ``bn_backward``, ``bn_spike_forward``,
    ``bn_spike_backward``, ``codes_to_spikes``; only those that ran). Counts of threads
    running kernels at the same moment may be slightly low."""
    calls: Dict[str, Dict[str, int]] = {}
    for (name, how), n in list(_calls.items()):
        calls.setdefault(name, {'compiled': 0, 'eager': 0})[how] = n
    return calls


# ---------------------------------------------------------------------------- autograd
class _FusedSpike(torch.autograd.Function):
    """The neuron with a one-byte code saved for backward (see the module doc)."""

    @staticmethod
    def forward(ctx, u, max_value, norm, rounding, include_boundary, out_dtype):
        order = _memory_order(u)
        variant = (u.dtype, out_dtype, rounding, include_boundary)
        s, code = _run(_spike_forward, variant, _flat(u, order), max_value, norm, rounding,
                       include_boundary, out_dtype)
        s, code = _unflat(s, u.shape, order), _unflat(code, u.shape, order)
        ctx.save_for_backward(code)
        ctx.norm, ctx.order, ctx.in_dtype = norm, order, u.dtype
        ctx.mark_non_differentiable(code)
        return s, code

    @staticmethod
    def backward(ctx, grad_s, _grad_code):
        (code, ) = ctx.saved_tensors
        order = ctx.order
        grad = _flat(grad_s, order)
        out = _run(_spike_backward, (grad.dtype, ctx.in_dtype), grad, _flat(code, order),
                   ctx.norm, ctx.in_dtype)
        return _unflat(out, code.shape, order), None, None, None, None, None


class _BatchNormSetup:
    """What the BN kernels need to know about ``x`` and the BN layer (shared by both BN
    functions): memory order, (M, C) or (N, C, inner) reading, statistics source, the affine
    parameters in the compute dtype."""

    def __init__(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                 bn: nn.Module):
        self.order, self.two_d = _channel_order(x)
        self.channels = x.shape[1]
        self.inner = 1 if self.two_d else x.numel() // (x.shape[0] * self.channels)
        self.batch_stats = _uses_batch_stats(bn)
        cdt = _compute_dtype(x.dtype)
        self.weight, self.bias = weight.detach().to(cdt), bias.detach().to(cdt)
        if self.batch_stats:
            self.mean = self.invstd = weight.new_empty(0, dtype=cdt)  # computed by the kernel
        else:
            self.mean = bn.running_mean.to(cdt)
            self.invstd = 1 / torch.sqrt(bn.running_var.to(cdt) + bn.eps)

    def update_running_stats(self, bn: nn.Module, mean, var, x: torch.Tensor) -> None:
        if self.batch_stats and bn.training and bn.track_running_stats:
            _update_running_stats(bn, mean, var, x.numel() // self.channels)

    def save(self, ctx) -> None:
        ctx.batch_stats, ctx.order, ctx.two_d = self.batch_stats, self.order, self.two_d
        ctx.channels, ctx.inner = self.channels, self.inner


def _bn_grads(ctx, x, weight, dx, dweight, dbias):
    """The autograd outputs of a fused BN backward: dx in ``x``'s layout (or None), the
    parameter gradients in the parameters' dtype where they are needed."""
    if dx is not None:
        dx = _unflat(dx, x.shape, ctx.order)
    dweight = dweight.to(weight.dtype) if ctx.needs_input_grad[1] else None
    dbias = dbias.to(weight.dtype) if ctx.needs_input_grad[2] else None
    return dx, dweight, dbias


class _FusedBatchNorm(torch.autograd.Function):
    """BN alone in one compiled forward and one backward (the BNs whose output is not spiked,
    e.g. the last BN of a residual branch)."""

    @staticmethod
    def forward(ctx, x, weight, bias, bn):
        setup = _BatchNormSetup(x, weight, bias, bn)
        variant = (x.dtype, setup.two_d, setup.batch_stats)
        y, mean, invstd, var = _run(_bn_forward, variant, _flat(x, setup.order), setup.channels,
                                    setup.inner, setup.two_d, setup.weight, setup.bias,
                                    setup.mean, setup.invstd, setup.batch_stats, bn.eps)
        setup.update_running_stats(bn, mean, var, x)
        ctx.save_for_backward(x, weight, mean, invstd)
        setup.save(ctx)
        return _unflat(y, x.shape, setup.order)

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, mean, invstd = ctx.saved_tensors
        order = ctx.order
        need_x = ctx.needs_input_grad[0]
        grad = _flat(grad_y, order)
        variant = (grad.dtype, x.dtype, ctx.two_d, ctx.batch_stats, need_x)
        grads = _run(_bn_backward, variant, grad, _flat(x, order), ctx.channels, ctx.inner,
                     ctx.two_d, weight.detach().to(_compute_dtype(x.dtype)), mean, invstd,
                     ctx.batch_stats, need_x)
        return (*_bn_grads(ctx, x, weight, *grads), None)


class _FusedBatchNormSpike(torch.autograd.Function):
    """``neuron(BN(x))`` in one forward and one backward kernel (see the module doc)."""

    @staticmethod
    def forward(ctx, x, weight, bias, bn, max_value, norm, rounding, include_boundary,
                out_dtype):
        setup = _BatchNormSetup(x, weight, bias, bn)
        order = setup.order
        variant = (x.dtype, out_dtype, setup.two_d, setup.batch_stats, rounding,
                   include_boundary)
        s, code, mean, invstd, var = _run(_bn_spike_forward, variant, _flat(x, order),
                                          setup.channels, setup.inner, setup.two_d, setup.weight,
                                          setup.bias, setup.mean, setup.invstd,
                                          setup.batch_stats, bn.eps, max_value, norm, rounding,
                                          include_boundary, out_dtype)
        setup.update_running_stats(bn, mean, var, x)
        code = _unflat(code, x.shape, order)
        # x itself, not its flat alias: autograd then still sees in-place changes to x
        ctx.save_for_backward(x, weight, mean, invstd, code)
        ctx.norm = norm
        setup.save(ctx)
        ctx.mark_non_differentiable(code)
        return _unflat(s, x.shape, order), code

    @staticmethod
    def backward(ctx, grad_s, _grad_code):
        x, weight, mean, invstd, code = ctx.saved_tensors
        order = ctx.order
        cdt = _compute_dtype(x.dtype)
        need_x = ctx.needs_input_grad[0]
        grad = _flat(grad_s, order)
        variant = (grad.dtype, x.dtype, ctx.two_d, ctx.batch_stats, need_x)
        grads = _run(_bn_spike_backward, variant, grad, _flat(code, order), _flat(x, order),
                     ctx.channels, ctx.inner, ctx.two_d, weight.detach().to(cdt), mean, invstd,
                     ctx.batch_stats, ctx.norm, need_x)
        return (*_bn_grads(ctx, x, weight, *grads), None, None, None, None, None, None)


@torch.no_grad()
def _update_running_stats(bn: nn.Module, mean, var, count: int) -> None:
    """BN's running-statistics update (momentum, or the cumulative average when None)."""
    bn.num_batches_tracked.add_(1)
    factor = bn.momentum
    if factor is None:
        factor = 1.0 / float(bn.num_batches_tracked)
    bn.running_mean.mul_(1 - factor).add_(mean.to(bn.running_mean.dtype), alpha=factor)
    unbiased = var * (count / (count - 1))
    bn.running_var.mul_(1 - factor).add_(unbiased.to(bn.running_var.dtype), alpha=factor)


def fused_spike(u: torch.Tensor, neuron: nn.Module,
                out_dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """``neuron(u)`` through the fused kernel: (spikes, code). Check :func:`can_fuse` first."""
    return _FusedSpike.apply(u, neuron.max_value, neuron.norm, neuron.rounding,
                             neuron.include_boundary, out_dtype or u.dtype)


def fused_bn_spike(x: torch.Tensor, norm_layer: nn.Module, neuron: nn.Module,
                   out_dtype: Optional[torch.dtype] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """``neuron(norm_layer(x))`` through the fused kernels: (spikes, code). Check
    :func:`can_fuse_norm` first."""
    return _FusedBatchNormSpike.apply(x, norm_layer.weight, norm_layer.bias, norm_layer,
                                      neuron.max_value, neuron.norm, neuron.rounding,
                                      neuron.include_boundary, out_dtype or x.dtype)


def batch_norm(x: torch.Tensor, norm_layer: nn.Module) -> torch.Tensor:
    """``norm_layer(x)``; through the fused BN kernel when :func:`can_fuse_batch_norm` allows
    (training on CPU, plain BN, no hooks), else the layer's own forward. Same values and
    running statistics either way."""
    if can_fuse_batch_norm(x, norm_layer):
        return _FusedBatchNorm.apply(x, norm_layer.weight, norm_layer.bias, norm_layer)
    return norm_layer(x)


def codes_to_spikes(code: torch.Tensor, norm: float, dtype: torch.dtype) -> torch.Tensor:
    """The spikes ``count / norm`` held in a code tensor (any layout), in ``dtype``."""
    order = _dense_order(code)
    if code.device.type != 'cpu' or order is None:
        return ((code & (_MASK_BIT - 1)).to(_compute_dtype(dtype)) / norm).to(dtype)
    out = _run(_codes_to_spikes, (dtype, ), _flat(code, order), norm, dtype)
    return _unflat(out, code.shape, order)
