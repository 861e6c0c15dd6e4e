"""Parity of mmsdt's E-SpikeFormer classifier with the paper's own model, in float64.

:func:`compare_with_upstream` takes the paper's model (built from a local checkout of
BICLab/Spike-Driven-Transformer-V3, e.g. by ``tools/analysis_tools/benchmark_vs_upstream.py
--parity``), gives it seeded random weights (conv / linear weights and biases, BN affine
parameters and running statistics, so that the neurons fire with several counts), and loads
that same state dict into both models: into the paper's model as it is, into mmpretrain's
``ImageClassifier(mmsdt.ESpikeFormer, GlobalAveragePooling, mmsdt.SpikeLinearClsHead)``
through the converter (:func:`~.e_spikeformer_converter.convert_released_state_dict`, the
path a released file takes). Both run in float64, eval mode, on the same seeded input; the
report holds the max absolute difference of each of the five stage outputs and of the logits.

Pass rule: every level's max absolute difference is at most ``rel_tol`` (1e-12) times the
largest magnitude of the paper model's output at that level. Both models run the same float64
operations; only the summation order inside a conv or matmul may differ (memory layout,
kernels), each such sum carrying a relative error of about 1e-16, so accumulated noise stays
orders of magnitude below 1e-12. A real difference (a weight, a rounding rule, a scale, a
layer order) changes spike counts, i.e. moves outputs by multiples of a weight times 1/4,
orders of magnitude above it. The comparison also fails when the neurons are silent or
saturated (mean firing rate outside (0, 1)) or a level is constant: then equal outputs
would prove nothing.
"""
import contextlib
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Tuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsdt.snn import SpikeRecorder
from mmsdt.utils.checkpoint import load_model_state
from .e_spikeformer import STAGE_LAYOUT
from .e_spikeformer_converter import convert_released_state_dict, infer_arch

REL_TOL = 1e-12


@dataclass
class ParityLevel:
    """One compared output: its name, shape, max |difference| and the reference scale."""
    name: str
    shape: Tuple[int, ...]
    max_abs_diff: float
    scale: float

    @property
    def bit_exact(self) -> bool:
        return self.max_abs_diff == 0.0


@dataclass
class ParityReport:
    """What :func:`compare_with_upstream` found; ``passed`` applies the module's pass rule."""
    arch: dict
    rel_tol: float
    levels: List[ParityLevel] = field(default_factory=list)
    firing_rate: float = 0.0
    problems: List[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(
            lv.max_abs_diff <= self.rel_tol * lv.scale for lv in self.levels)

    def lines(self) -> List[str]:
        """A printable table, one line per level, then the verdict."""
        out = [f'{"level":<10}{"shape":<22}{"max |diff|":>14}{"max |upstream|":>16}  result']
        for lv in self.levels:
            ok = lv.max_abs_diff <= self.rel_tol * lv.scale
            verdict = 'bit-exact' if lv.bit_exact else ('float64 noise' if ok else 'DIFFERS')
            out.append(f'{lv.name:<10}{str(tuple(lv.shape)):<22}{lv.max_abs_diff:>14.3e}'
                       f'{lv.scale:>16.3e}  {verdict}')
        out.append(f'mean firing rate of the mmsdt neurons: {self.firing_rate:.3f}')
        out += [f'problem: {p}' for p in self.problems]
        out.append(f'PASSED: every level within {self.rel_tol:g} x max |upstream|'
                   if self.passed else 'FAILED')
        return out


def randomise_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Seeded random weights for every conv / linear layer and BN of ``model``, in place.

    Conv / linear weights ~ N(0, 1 / fan_in), biases ~ N(0, 0.1²); BN running mean ~
    U(-0.5, 0.5), running variance ~ U(0.5, 2), weight ~ U(0.5, 1.5), bias ~ U(-0.2, 0.8)
    (every neuron after a BN then fires with several counts). Modules are visited in
    ``named_modules`` order, so two models with the same layers get the same values.
    """
    g = torch.Generator().manual_seed(seed)

    def draw(shape, low=None, high=None, std=None):
        if std is not None:
            return torch.randn(shape, generator=g, dtype=torch.float64) * std
        return torch.rand(shape, generator=g, dtype=torch.float64) * (high - low) + low

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(draw(m.weight.shape, std=fan_in**-0.5))
                if m.bias is not None:
                    m.bias.copy_(draw(m.bias.shape, std=0.1))
            elif isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(draw(n, -0.5, 0.5))
                m.running_var.copy_(draw(n, 0.5, 2.0))
                m.weight.copy_(draw(n, 0.5, 1.5))
                m.bias.copy_(draw(n, -0.2, 0.8))
    return model


def _last_module(model: nn.Module, stage: Tuple[str, ...]) -> nn.Module:
    """The module whose output is the stage's output (the last block, or the downsample of a
    stage without blocks)."""
    for name in reversed(stage):
        module = getattr(model, name)
        if isinstance(module, nn.ModuleList):
            if len(module):
                return module[-1]
        else:
            return module
    raise ValueError(f'stage {stage} of {type(model).__name__} has no module')


@contextlib.contextmanager
def captured_stage_outputs(model: nn.Module) -> Iterator[Dict[int, torch.Tensor]]:
    """The five stage outputs of a model with E-SpikeFormer's module names (the paper's or
    mmsdt's), captured by forward hooks while inside."""
    outs: Dict[int, torch.Tensor] = {}
    handles = []
    for k, stage in enumerate(STAGE_LAYOUT):
        hook = (lambda k: lambda m, i, o: outs.__setitem__(k, o))(k)
        handles.append(_last_module(model, stage).register_forward_hook(hook))
    try:
        yield outs
    finally:
        for h in handles:
            h.remove()


def build_classifier(arch: dict, num_classes: int) -> nn.Module:
    """mmpretrain's ImageClassifier(ESpikeFormer (all five stages), GlobalAveragePooling,
    SpikeLinearClsHead) for an ``arch`` dict."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(dict(
            type='ImageClassifier',
            backbone=dict(type='mmsdt.ESpikeFormer', arch=arch, out_indices=(0, 1, 2, 3, 4)),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=num_classes,
                      in_channels=arch['embed_dims'][-1])))


def compare_with_upstream(upstream: nn.Module, size: int = 224, batch: int = 2,
                          seed: int = 0, rel_tol: float = REL_TOL,
                          source: str = 'upstream') -> ParityReport:
    """Load the same seeded random weights into the paper's model ``upstream`` and the mmsdt
    classifier, run both in float64 and compare every stage output and the logits.

    Args:
        upstream (nn.Module): the paper's classifier (released key names; ``forward`` gives
            logits). Its weights are replaced.
        size (int): side of the square input.
        batch (int): images in the input.
        seed (int): seed of the weights and of the input.
        rel_tol (float): the pass rule's relative tolerance (see the module docstring).
        source (str): name of the weights in error messages.

    Returns:
        ParityReport: per level the max abs difference; ``passed`` applies the rule.
    """
    upstream = upstream.double().eval()
    randomise_weights(upstream, seed)
    released = {k: v.detach().clone() for k, v in upstream.state_dict().items()}
    upstream.load_state_dict(released, strict=True)
    arch = infer_arch(released)
    num_classes = int(released['head.weight'].shape[0])
    clf = build_classifier(arch, num_classes).double().eval()  # float64 before loading
    converted, _ = convert_released_state_dict(released, source=source)
    load_model_state(clf, dict(state_dict=converted), source)

    x = torch.randn(batch, 3, size, size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(seed + 1))
    flush = torch.set_flush_denormal(True)  # float64 denormals slow convs ~100x on CPU
    try:
        with torch.no_grad():
            with captured_stage_outputs(upstream) as ref_stages:
                ref_logits = upstream(x)
            with SpikeRecorder(clf) as rec:
                feats = clf.backbone(x)
                logits = clf(x, mode='tensor')
    finally:
        if flush:
            torch.set_flush_denormal(False)

    report = ParityReport(arch=arch, rel_tol=rel_tol)
    pairs = [(f'stage{k}', ref_stages.get(k), feats[k]) for k in range(len(STAGE_LAYOUT))]
    pairs.append(('logits', ref_logits, logits))
    for name, ref, got in pairs:
        if ref is None:
            report.problems.append(f'{name}: the upstream model never ran that stage')
            continue
        if ref.shape != got.shape:
            report.problems.append(f'{name}: shapes differ, upstream {tuple(ref.shape)} vs '
                                   f'mmsdt {tuple(got.shape)}')
            continue
        ref = ref.double()
        if float(ref.max() - ref.min()) == 0.0:
            report.problems.append(f'{name}: the upstream output is constant')
        report.levels.append(ParityLevel(name, tuple(ref.shape),
                                         float((got.double() - ref).abs().max()),
                                         float(ref.abs().max())))
    rates = [s.firing_rate for s in rec.stats.values()]
    report.firing_rate = sum(rates) / len(rates)
    if not 0.0 < report.firing_rate < 1.0:
        report.problems.append(f'mean firing rate {report.firing_rate:.3f}: the neurons are '
                               f'silent or saturated, equal outputs would prove nothing')
    return report

