"""Export a config's spiking model (integer mode, BatchNorm and 1/norm folded) to ONNX and
check the file against PyTorch with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG [--checkpoint CKPT] [--shape H W]
        [--part backbone|features|model] [--no-fold] [--opset 18] --out FILE.onnx

What is exported (``--part``):

* ``backbone`` (default): ``model.backbone``; outputs = its feature maps (or logits for a
  classification backbone with a head).
* ``features``: ``model.extract_feat`` (backbone + neck: the FPN levels of a detector or
  segmentor, the neck output of a classifier).
* ``model``: the whole network in mmengine's ``mode='tensor'`` for classifiers (class
  scores before softmax) and segmentors (decode-head logits at 1/4 input resolution, before
  resizing and argmax). Not for detectors: proposal generation, RoIAlign and NMS need mmcv
  custom ops and post-processing that stock ONNX runtimes do not have (that is mmdeploy's
  job); export ``features`` and run the heads in PyTorch.

The input is the preprocessed batch: ``float32 (1, 3, H, W)`` after the data preprocessor's
mean / std (and BGR -> RGB); the values are stored in the file's metadata. Shapes are static.
Every neuron appears as ``Clip(0, D)`` + ``Round`` (plus ``Div`` where its 1/norm could not be
folded); the tool checks that there is one pair per neuron call. Without ``--checkpoint`` the
weights are random (said on the terminal).

Exits with 1 when more than ``--max-mismatch`` of the output elements differ from PyTorch by
more than ``1e-4 + 1e-4 |x|`` (float32: a potential within rounding error of a tie may round
to the other count, so a few isolated elements may differ by about one weight).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import torch
from torch import nn

from mmsdt.snn import MultiSpike, fold_bn

PARTS = ('backbone', 'features', 'model')


class ExtractFeatures(nn.Module):
    """``model.extract_feat(inputs)`` as a module (backbone + neck)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model.extract_feat(inputs)


def select_part(model: nn.Module, part: str, scope: str, config: str) -> nn.Module:
    """The module to export for ``--part``; a clear error for a part the model cannot give."""
    if part == 'backbone':
        return model.backbone
    if part == 'features':
        return ExtractFeatures(model)
    if scope == 'mmdet':
        raise SystemExit(
            f'{config}: --part model is not exported for detectors (proposals, RoIAlign and NMS '
            f'need mmcv custom ops and post-processing outside ONNX); use --part features and '
            f'run the heads in PyTorch, or mmdeploy')
    from mmsdt.apis import TensorModeForward
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


def main(argv: Optional[List[str]] = None) -> int:
    from mmengine.config import Config

    from mmsdt.apis import build_inferencer, switch_off_autocast
    from mmsdt.deployment import compare_with_onnxruntime, count_neuron_calls, export_onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (loaded strictly); default: random init')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'),
                        help='input height and width (default 224 224)')
    parser.add_argument('--part', choices=PARTS, default='backbone',
                        help='what to export (default: backbone); see the module docstring')
    parser.add_argument('--no-fold', action='store_true',
                        help='export without folding BatchNorm and 1/norm (debugging)')
    parser.add_argument('--opset', type=int, default=18)
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--max-mismatch', type=float, default=1e-3,
                        help='largest share of output elements allowed to differ from PyTorch')
    args = parser.parse_args(argv)
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')

    scope = Config.fromfile(args.config).get('default_scope') if osp.isfile(args.config) else None
    if args.part == 'model' and scope == 'mmdet':
        select_part(None, args.part, scope, args.config)  # the error, before building anything
    inferencer = build_inferencer(args.config, 'cpu', args.checkpoint)
    if args.checkpoint is None:
        print('no --checkpoint: exporting randomly initialised weights', flush=True)
    model = inferencer.model.eval()
    module = select_part(model, args.part, scope, args.config).eval()
    for name in switch_off_autocast(module):
        print(f'{name or args.part}: autocast switched off, the ONNX graph is float32',
              flush=True)
    neurons = sum(isinstance(m, MultiSpike) for m in module.modules())
    if neurons == 0:
        raise SystemExit(f'{args.config}: the exported part ({args.part}) has no MultiSpike '
                         f'neuron; is this an mmsdt spiking config?')
    torch.manual_seed(0)
    example = torch.randn(1, 3, *args.shape)
    try:
        with torch.no_grad():
            module(example)
    except RuntimeError as err:
        raise SystemExit(f'{args.config}: the {args.part} does not run on a 1x3x{args.shape[0]}x'
                         f'{args.shape[1]} input: {err}') from err
    folded = {}
    if not args.no_fold:
        folded = fold_bn(module, example)
    calls = count_neuron_calls(module, example)

    meta = dict(producer='mmsdt tools/deployment/export_onnx.py', config=args.config,
                checkpoint=str(args.checkpoint), part=args.part, folded=str(not args.no_fold),
                input='preprocessed float32 NCHW', **{
                    k: json.dumps(v)
                    for k, v in preprocessor_metadata(model).items()
                })
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    print(f'exporting {args.part} of {args.config} at 1x3x{args.shape[0]}x{args.shape[1]} '
          f'(opset {args.opset}) ...', flush=True)
    summary = export_onnx(module, example, args.out, opset=args.opset, metadata=meta)
    ops = summary.op_counts
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB)')
    if folded:
        print(f'folded: {folded.get("bn_folded", 0)} BatchNorm layers, '
              f'{folded.get("norms_folded", 0)} neuron norms; {folded.get("bn_left", 0)} '
              f'BatchNorm layers left as ops')
    shapes = zip(summary.output_names, summary.output_shapes)
    print(f'input {summary.input_name} {list(summary.input_shape)}; outputs: ' +
          ', '.join(f'{n} {list(s)}' for n, s in shapes))
    print('ops: ' + ', '.join(f'{k} {v}' for k, v in ops.items()))
    pairs = min(ops.get('Clip', 0), ops.get('Round', 0))
    print(f'neurons: {calls} MultiSpike calls, {ops.get("Clip", 0)} Clip and '
          f'{ops.get("Round", 0)} Round nodes')
    failed = pairs < calls

    torch.manual_seed(1)
    check = torch.randn(1, 3, *args.shape)
    diffs = compare_with_onnxruntime(args.out, module, check, output_names=summary.output_names)
    print(f'{"output":<8}{"shape":<22}{"max |onnx - torch|":>20}{"max |torch|":>13}'
          f'{"mismatched":>12}')
    for d in diffs:
        print(f'{d.name:<8}{str(list(d.shape)):<22}{d.max_abs:>20.3e}{d.max_ref:>13.3e}'
              f'{d.mismatched:>8}/{d.elements}')
        failed |= d.mismatched_share > args.max_mismatch
    if all(d.max_ref == 0 for d in diffs):
        print('WARNING: every output is zero on a random input (no spikes reach the outputs; '
              'random weights?): the comparison says little')
    if failed:
        print('FAILED: the ONNX file does not match PyTorch (see above)')
        return 1
    print('PASSED: onnxruntime matches PyTorch')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
