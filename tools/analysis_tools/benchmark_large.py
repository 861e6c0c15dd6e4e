"""Speed and memory of the 83M / 171M models on this machine (numbers, not a test).

    python tools/analysis_tools/benchmark_large.py train [--repeats 3] [--with-cp 0 1]
    python tools/analysis_tools/benchmark_large.py eval [--archs 83m 171m] [--sizes 224 384]

Each case runs in its own process, so its peak resident memory (``ru_maxrss``, torch
included) is its own.

* ``train``: one training step of the 171M classifier of
  ``configs/e-spikeformer/cls/e-spikeformer-large-171m-d4_8xb128-150e_in1k.py`` (its model,
  mixup / cutmix, loss and Lamb optimizer with layer decay; float32 ``OptimWrapper`` instead of
  AMP) on a random batch of 8 images at 224², with and without ``with_cp`` (activation
  checkpointing of the 12 blocks). Prints the median and range of ``--repeats`` steps after one
  warm-up step, and the peak memory.
* ``eval``: the classifier's evaluation forward (batch 1, no grad) of each arch and input size,
  as built (``unfused``) and after :func:`mmsdt.snn.fold_bn` (``folded``: BN and 1/norm folded
  into the layers; the folded and left BN counts are printed). Median and range of
  ``--repeats`` runs after one warm-up.

Prints one line per case and writes JSON (``--out``).
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

CONFIG = 'configs/e-spikeformer/cls/e-spikeformer-large-{arch}-d4_8xb128-150e_in1k.py'


def _stats(values):
    values = sorted(values)
    return dict(median=round(values[len(values) // 2], 1), min=round(values[0], 1),
                max=round(values[-1], 1))


def _peak_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def _model(arch, with_cp=False):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmsdt.models  # noqa: F401 (registers the mmsdt types)
    cfg = Config.fromfile(CONFIG.format(arch=arch))
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, with_cp=with_cp)
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        model = MODELS.build(model_cfg)
    return cfg, model


def run_train(arch, size, batch, with_cp, repeats):
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    cfg, model = _model(arch, with_cp)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        optim = build_optim_wrapper(model, dict(cfg.optim_wrapper, type='OptimWrapper'))
    model.train()
    before = _peak_mb()
    times = []
    for i in range(repeats + 1):
        data = dict(inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
                            for _ in range(batch)],
                    data_samples=[DataSample().set_gt_label(int(torch.randint(1000, ())))
                                  for _ in range(batch)])
        t = time.perf_counter()
        model.train_step(data, optim)
        if i:  # the first step is a warm-up
            times.append((time.perf_counter() - t) * 1e3)
    return dict(case='train', arch=arch, size=size, batch=batch, with_cp=with_cp,
                step_ms=_stats(times), peak_rss_mb=_peak_mb(), peak_rss_before_steps_mb=before,
                threads=torch.get_num_threads())


def run_eval(arch, size, repeats):
    import torch

    from mmsdt.snn import fold_bn
    torch.manual_seed(0)
    _, model = _model(arch)
    model.eval()
    x = torch.randn(1, 3, size, size)

    def timed(fn):
        out = []
        with torch.no_grad():
            for i in range(repeats + 1):
                t = time.perf_counter()
                fn(x)
                if i:
                    out.append((time.perf_counter() - t) * 1e3)
        return _stats(out)

    unfused = timed(lambda v: model(v, mode='tensor'))
    counts = fold_bn(model.backbone, x)
    folded = timed(lambda v: model(v, mode='tensor'))
    return dict(case='eval', arch=arch, size=size, batch=1, unfused_ms=unfused, folded_ms=folded,
                fold=counts, peak_rss_mb=_peak_mb(), threads=torch.get_num_threads())


def main(argv=None) -> int:
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    parser = argparse.ArgumentParser(description='Benchmark the 83M / 171M models.')
    parser.add_argument('mode', choices=('train', 'eval'))
    parser.add_argument('--archs', nargs='+', default=None)
    parser.add_argument('--sizes', type=int, nargs='+', default=None)
    parser.add_argument('--batch-size', type=int, default=8, help='train batch')
    parser.add_argument('--with-cp', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--out', default=None)
    parser.add_argument('--case', help=argparse.SUPPRESS)  # child-process entry
    args = parser.parse_args(argv)
    if args.case:
        spec = json.loads(args.case)
        fn = run_train if spec.pop('mode') == 'train' else run_eval
        print(json.dumps(fn(**spec)))
        return 0
    if args.mode == 'train':
        archs, sizes = args.archs or ['171m'], args.sizes or [224]
        cases = [dict(mode='train', arch=a, size=s, batch=args.batch_size, with_cp=bool(cp),
                      repeats=args.repeats) for a in archs for s in sizes for cp in args.with_cp]
    else:
        archs, sizes = args.archs or ['83m', '171m'], args.sizes or [224, 384]
        cases = [dict(mode='eval', arch=a, size=s, repeats=args.repeats)
                 for a in archs for s in sizes]
    results = []
    for case in cases:
        proc = subprocess.run([sys.executable, __file__, 'eval', '--case', json.dumps(case)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f'{case} failed:\n{proc.stderr}')
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result), flush=True)
    out = args.out or f'work_dirs/benchmark_large_{args.mode}.json'
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                       results=results), f, indent=2)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
