"""Export a config's spiking model (integer mode, BatchNorm and 1/norm folded) to ONNX and
check the file (:func:`export_and_check`, the library behind ``tools/deployment/export_onnx.py``).

What is exported (``part``):

* ``backbone``: ``model.backbone``; outputs = its feature maps.
* ``features``: ``model.extract_feat`` (backbone + neck: the FPN levels of a detector or
  segmentor, the neck output of a classifier).
* ``model``: the whole network in mmengine's ``mode='tensor'`` for classifiers (class scores
  before softmax) and segmentors (decode-head logits at 1/4 input resolution). Not for
  detectors: proposals, RoIAlign and NMS need mmcv custom ops and post-processing that stock
  ONNX runtimes do not have (mmdeploy's job).

The input is the preprocessed batch (``float32 (1, 3, H, W)`` after the data preprocessor's
mean / std and channel order, which are written into the file's metadata).

Imports OpenMMLab through :mod:`mmsdt.apis`; the export and the check themselves
(:mod:`.onnx_export`, :mod:`.onnx_check`) do not.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import torch
from torch import nn

from mmsdt.apis import TensorModeForward, build_inferencer, switch_off_autocast
from mmsdt.snn import MultiSpike, fold_bn
from .onnx_check import OnnxCheckReport, check_onnx_file
from .onnx_export import ExportSummary, count_neuron_calls, export_onnx

PARTS = ('backbone', 'features', 'model')


class ExtractFeatures(nn.Module):
    """``model.extract_feat(inputs)`` as a module (backbone + neck)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model.extract_feat(inputs)


def check_part(part: str, scope: Optional[str], config: str) -> None:
    """Raise a clear error for a ``part`` that is unknown or that the model cannot give."""
    if part not in PARTS:
        raise ValueError(f'part must be one of {PARTS}, got {part!r}')
    if part == 'model' and scope == 'mmdet':
        raise ValueError(
            f'{config}: --part model is not exported for detectors (proposals, RoIAlign and NMS '
            f'need mmcv custom ops and post-processing outside ONNX); use --part features and '
            f'run the heads in PyTorch, or mmdeploy')


def select_part(model: nn.Module, part: str) -> nn.Module:
    """The module to export for ``part`` (see the module docstring)."""
    if part == 'backbone':
        return model.backbone
    if part == 'features':
        return ExtractFeatures(model)
    return TensorModeForward(model)


def preprocessor_metadata(model: nn.Module) -> dict:
    """Mean / std / channel order of the model's data preprocessor (what the input must get)."""
    pre = getattr(model, 'data_preprocessor', None)
    meta = {}
    for key in ('mean', 'std'):
        value = getattr(pre, key, None)
        if isinstance(value, torch.Tensor):
            meta[key] = [round(float(v), 6) for v in value.flatten()]
    for key in ('_channel_conversion', 'to_rgb', 'bgr_to_rgb'):
        if hasattr(pre, key):
            meta['bgr_to_rgb'] = bool(getattr(pre, key))
            break
    return meta


@dataclass
class ExportReport:
    """What :func:`export_and_check` did: the file written, the folding counts, the neuron
    calls of one forward, the export summary and the check of the file."""
    summary: ExportSummary
    folded: Dict[str, int]
    neuron_calls: int
    check: OnnxCheckReport
    autocast_off: Sequence[str]

    def failures(self):
        """Why the export fails (empty when it passes): a neuron call without its ``Clip`` +
        ``Round`` pair, then :meth:`OnnxCheckReport.failures`."""
        ops = self.summary.op_counts
        pairs = min(ops.get('Clip', 0), ops.get('Round', 0))
        out = []
        if pairs < self.neuron_calls:
            out.append(f'{self.neuron_calls} neuron calls but only {pairs} Clip + Round pairs')
        return out + self.check.failures()

    @property
    def ok(self) -> bool:
        return not self.failures()


def export_and_check(config: str, checkpoint: Optional[str], shape: Sequence[int], part: str,
                     out: str, fold: bool = True, opset: int = 18,
                     log: Callable[[str], None] = lambda text: None) -> ExportReport:
    """Build ``config``'s model with ``checkpoint`` (loaded strictly; random weights without),
    fold it (unless ``fold`` is False), export ``part`` at ``1 x 3 x H x W`` to ``out`` and
    check the file on a second random input (:func:`~mmsdt.deployment.onnx_check.
    check_onnx_file`); progress goes to ``log``.

    Raises:
        ValueError: a bad ``part`` / ``shape``, a part without spiking neurons, or one that
            does not run on the input size (the message names the config).
    """
    from mmengine.config import Config
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be two positive sizes (H, W), got {list(shape)}')
    scope = Config.fromfile(config).get('default_scope') if osp.isfile(config) else None
    check_part(part, scope, config)  # before building anything
    inferencer = build_inferencer(config, 'cpu', checkpoint)
    model = inferencer.model.eval()
    module = select_part(model, part).eval()
    autocast_off = switch_off_autocast(module)
    if not any(isinstance(m, MultiSpike) for m in module.modules()):
        raise ValueError(f'{config}: the exported part ({part}) has no MultiSpike neuron; is '
                         f'this an mmsdt spiking config?')
    torch.manual_seed(0)
    example = torch.randn(1, 3, *shape)
    try:
        with torch.no_grad():
            module(example)
    except RuntimeError as err:
        raise ValueError(f'{config}: the {part} does not run on a 1x3x{shape[0]}x{shape[1]} '
                         f'input: {err}') from err
    folded = fold_bn(module, example) if fold else {}
    calls = count_neuron_calls(module, example)
    meta = dict(producer='mmsdt tools/deployment/export_onnx.py', config=config,
                checkpoint=str(checkpoint), part=part, folded=str(fold),
                input='preprocessed float32 NCHW',
                **{k: json.dumps(v) for k, v in preprocessor_metadata(model).items()})
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    log(f'exporting {part} of {config} at 1x3x{shape[0]}x{shape[1]} (opset {opset}) ...')
    summary = export_onnx(module, example, out, opset=opset, metadata=meta)
    torch.manual_seed(1)
    check = check_onnx_file(out, module, torch.randn(1, 3, *shape),
                            output_names=summary.output_names)
    return ExportReport(summary=summary, folded=folded, neuron_calls=calls, check=check,
                        autocast_off=list(autocast_off))
