"""Export a config's spiking model (integer mode, BatchNorm and 1/norm folded) to ONNX and
check the file against PyTorch with onnxruntime.

    python tools/deployment/export_onnx.py CONFIG [--checkpoint CKPT] [--shape H W]
        [--part backbone|features|model] [--no-fold] [--opset 18] --out FILE.onnx

``--part``: ``backbone`` (default), ``features`` (backbone + neck) or ``model`` (classifiers
and segmentors in ``mode='tensor'``; not detectors). The input is the preprocessed batch
(``float32 (1, 3, H, W)``; mean / std / channel order are in the file's metadata); shapes are
static. Every neuron appears as ``Clip(0, D)`` + ``Round`` (plus ``Div`` where its 1/norm could
not be folded). Without ``--checkpoint`` the weights are random (said on the terminal).

The check (:mod:`mmsdt.deployment.onnx_check`, docs/design.md#onnx-export) runs the file in
lock-step with PyTorch in float64: every neuron's potential within its derived float32 bound,
every count equal except at a rounding tie within that bound, every output within its bound
and not constant. Exits with 1 when a rule is broken (each is printed), 0 when the file passes.
Library: :func:`mmsdt.deployment.export_and_check`.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmsdt.deployment.config_export import PARTS


def print_report(report, out: str) -> None:
    """The export summary and the check table."""
    summary, ops = report.summary, report.summary.op_counts
    print(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB)')
    if report.folded:
        f = report.folded
        print(f'folded: {f.get("bn_folded", 0)} BatchNorm layers, {f.get("norms_folded", 0)} '
              f'neuron norms; {f.get("bn_left", 0)} BatchNorm layers left as ops')
    shapes = zip(summary.output_names, summary.output_shapes)
    print(f'input {summary.input_name} {list(summary.input_shape)}; outputs: ' +
          ', '.join(f'{n} {list(s)}' for n, s in shapes))
    print('ops: ' + ', '.join(f'{k} {v}' for k, v in ops.items()))
    check = report.check
    print(f'neurons: {report.neuron_calls} MultiSpike calls, {ops.get("Clip", 0)} Clip and '
          f'{ops.get("Round", 0)} Round nodes; firing rate {check.firing_rate:.3f} on the check '
          f'input; {sum(n.tie_flips for n in check.neurons)} counts differ at a rounding tie')
    print(f'float32 bound: gamma_d * S with d = {check.depth} (largest accumulation + nodes), '
          f'gamma_d = {check.gamma:.3e}; S = the value computed with absolute weights')
    print(f'{"output":<8}{"shape":<22}{"max |onnx - f64|":>18}{"max bound":>12}'
          f'{"max |f64|":>12}{"outside":>9}')
    for o in check.outputs:
        print(f'{o.name:<8}{str(list(o.shape)):<22}{o.max_abs_error:>18.3e}{o.max_bound:>12.3e}'
              f'{o.max_ref:>12.3e}{o.outside_bound:>9}')


def main(argv: Optional[List[str]] = None) -> int:
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    from mmsdt.deployment import export_and_check

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
    args = parser.parse_args(argv)
    if min(args.shape) < 1:
        parser.error(f'--shape must be positive, got {args.shape}')
    if args.checkpoint is None:
        print('no --checkpoint: exporting randomly initialised weights', flush=True)
    try:
        report = export_and_check(args.config, args.checkpoint, args.shape, args.part,
                                  args.out, fold=not args.no_fold, opset=args.opset,
                                  log=lambda text: print(text, flush=True))
    except ValueError as err:
        raise SystemExit(str(err)) from err
    for name in report.autocast_off:
        print(f'{name or args.part}: autocast switched off, the ONNX graph is float32')
    print_report(report, args.out)
    failures = report.failures()
    for text in failures:
        print(f'FAILED: {text}')
    if failures:
        return 1
    print('PASSED: onnxruntime matches PyTorch (lock-step, within the derived float32 bound)')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
