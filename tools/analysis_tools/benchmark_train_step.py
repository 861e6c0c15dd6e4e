"""Where a training step's time goes, for any mmdet / mmseg / mmpretrain config (numbers, not a
test).

    python tools/analysis_tools/benchmark_train_step.py CONFIG [--warmup 20] [--steps 15]
        [--modules NAME ...] [--threads N] [--ops] [--cfg-options k=v ...]
        [--time-steps T --frames C H W [--batch-size B]]

Builds the config's model, optimizer wrapper and training data loader (in this process, no
workers), loads ``--warmup + --steps`` batches first, then runs the steps the way mmengine's
``train_step`` does, timing each part separately:

* ``data loading``: producing one batch (the data pipeline; in a real run worker processes do
  this, on the same cores);
* ``data preprocessor``, ``forward (loss)``, ``backward``, ``optimizer step`` (with gradient
  clipping and ``zero_grad``);
* inside the forward, every module named by ``--modules`` (forward only, by hooks; default:
  the model's direct children, plus a two-stage detector's RoI extractors and heads; modules
  whose ``forward`` is not called in training, such as a RoI head, are listed as not timed).
  The rest of the forward is the task's own work: target assignment, sampling, losses,
  proposals.

Prints milliseconds per step (mean over the timed steps) and the share of the step, and the
process's peak resident memory (``ru_maxrss``) before and after the steps: their difference is
what the training steps added on top of the model, the optimizer and the loaded batches.

``--time-steps T --frames C H W`` times a classifier on event frames without a data set:
every batch is ``--batch-size`` random binary frame stacks ``(B, T, C, H, W)`` with random
labels, handed to the model as its data preprocessor would (that part reads 0 ms). The config
gives the model (e.g. a classification config with ``--cfg-options
model.backbone.in_channels=2``).

With ``--ops`` it then says what bounds the step (:mod:`mmsdt.utils.step_profile`):

* the same steps again under torch.profiler, their time by kind of op (convolution forward /
  backward, matrix products, the compiled fused kernels, eager BatchNorm, indexing / sorting /
  NMS, the optimizer, other tensor ops, and the time in no tensor op: Python, autograd,
  dispatch). The profiler's own cost inflates the many small ops most;
* the dense FLOPs of one step (convolutions and matrix products, forward and backward), the
  CPU's measured GEMM rate (a 2048³ matrix product in float32, and in bfloat16 where oneDNN
  supports it) and what that rate allows: the least time the dense layers could take against
  the time the convolution and matrix-product rows took.
"""
import argparse
import os.path as osp
import resource
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

import torch

DETECTOR_PARTS = ('roi_head.bbox_roi_extractor', 'roi_head.bbox_head',
                  'roi_head.mask_roi_extractor', 'roi_head.mask_head')


def _timed_modules(model: torch.nn.Module, names: Optional[List[str]]) -> Dict[str, object]:
    modules = dict(model.named_modules())
    if names is None:
        names = [n for n, _ in model.named_children() if n != 'data_preprocessor']
        names += [n for n in DETECTOR_PARTS if n in modules]
    missing = [n for n in names if n not in modules]
    if missing:
        raise SystemExit(f'--modules: the model has no module named {", ".join(missing)} '
                         f'(its children: {", ".join(n for n, _ in model.named_children())})')
    return {n: modules[n] for n in names}


def _hook_times(modules: Dict[str, object], totals: Dict[str, float],
                calls: Dict[str, int]) -> None:
    for name, module in modules.items():
        start: List[float] = []

        def pre(_module, _args, start=start):
            start.append(time.perf_counter())

        def post(_module, _args, _out, name=name, start=start):
            totals[f'  {name} (forward)'] += time.perf_counter() - start.pop()
            calls[name] += 1

        module.register_forward_pre_hook(pre)
        module.register_forward_hook(post)


def main(argv: Optional[List[str]] = None) -> int:
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--warmup', type=int, default=20,
                        help='untimed steps first (compilation, oneDNN primitives per shape)')
    parser.add_argument('--steps', type=int, default=15, help='timed steps')
    parser.add_argument('--modules', nargs='+', default=None,
                        help='modules whose forward is timed (dotted names in the model)')
    parser.add_argument('--threads', type=int, default=None, help='torch threads')
    parser.add_argument('--ops', action='store_true',
                        help='also profile the steps by kind of op and compare their dense '
                             'FLOPs with the measured GEMM rate')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--time-steps', type=int, default=None,
                        help='T: random event frames (B, T, C, H, W) instead of the data set')
    parser.add_argument('--frames', type=int, nargs=3, metavar=('C', 'H', 'W'), default=None,
                        help='channels and size of each frame (with --time-steps)')
    parser.add_argument('--batch-size', type=int, default=2,
                        help='samples per random batch (with --time-steps)')
    args = parser.parse_args(argv)
    if args.warmup < 0 or args.steps < 1:
        parser.error('--warmup must be >= 0 and --steps >= 1')
    if (args.time_steps is None) != (args.frames is None):
        parser.error('--time-steps and --frames go together')
    if args.time_steps is not None and (args.time_steps < 1 or args.batch_size < 1
                                        or min(args.frames) < 1):
        parser.error('--time-steps, --batch-size and --frames must be positive')
    if not osp.isfile(args.config):
        parser.error(f'config file not found: {args.config}')
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix='benchmark_train_step_') as work_dir:
        return _benchmark(args, work_dir)


def _benchmark(args, work_dir: str) -> int:
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmsdt.utils.quiet import hide_known_warnings

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = work_dir
    # one logger / visualizer per run: mmengine names them after the experiment, by default
    # the start second, and two runs in one second would share the first run's save_dir
    cfg.experiment_name = osp.basename(work_dir)
    cfg.log_level = 'WARNING'
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    runner = Runner.from_cfg(cfg)
    hide_known_warnings(runner.logger)
    model = runner.model
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    timed = _timed_modules(model, args.modules)
    total = args.warmup + args.steps
    print(f'{args.config}: loading {total} batches, then {args.warmup} warm-up and '
          f'{args.steps} timed steps on {torch.get_num_threads()} threads', flush=True)
    batches, load_time = [], 0.0
    if args.time_steps is not None:
        batches = _random_frame_batches(cfg, total, args.batch_size, args.time_steps,
                                        args.frames)
        print(f'random event frames: batch {args.batch_size} x T {args.time_steps} x '
              f'{"x".join(map(str, args.frames))}', flush=True)
    else:
        iterator = iter(runner.build_dataloader(cfg.train_dataloader))
        for i in range(total):
            start = time.perf_counter()
            batches.append(next(iterator))
            if i >= args.warmup:
                load_time += time.perf_counter() - start
    rss_before = _peak_rss_mib()

    totals: Dict[str, float] = defaultdict(float)
    calls: Dict[str, int] = defaultdict(int)
    _hook_times(timed, totals, calls)
    model.train()
    for i, batch in enumerate(batches):
        if i == args.warmup:
            totals.clear()
            calls.clear()
        if i % 5 == 0:
            print(f'step {i + 1}/{total}', flush=True)
        times = _train_step(model, optim_wrapper, batch)
        for key, value in zip(('data preprocessor', 'forward (loss)', 'backward',
                               'optimizer step'), times):
            totals[key] += value
        totals['step (without data loading)'] += sum(times)
    totals['data loading (one batch)'] = load_time

    # modules whose forward ran and that are not inside another such module
    called = [n for n in timed if calls[n]]
    outer = [n for n in called if not any(n.startswith(f'{o}.') for o in called if o != n)]
    rest = 'rest of the forward (targets, sampling, losses)'
    totals[f'  {rest}'] = totals['forward (loss)'] - sum(
        totals[f'  {n} (forward)'] for n in outer)
    step = totals['step (without data loading)']
    order = ['data loading (one batch)', 'data preprocessor', 'forward (loss)']
    order += [f'  {n} (forward)' for n in called] + [f'  {rest}']
    order += ['backward', 'optimizer step', 'step (without data loading)']
    width = max(len(k) for k in order) + 2
    print(f'\n{"part":<{width}}{"ms / step":>10}{"share":>8}')
    for key in order:
        value = totals.get(key, 0.0)
        print(f'{key:<{width}}{value / args.steps * 1e3:>10.1f}{value / step * 100:>7.0f}%')
    skipped = [n for n in timed if not calls[n]]
    if skipped:  # e.g. a RoI head: the detector calls its loss(), not forward()
        print(f'not timed (forward not called during training): {", ".join(skipped)}')
    rss_after = _peak_rss_mib()
    print(f'peak resident memory: {rss_after:.0f} MiB ({rss_before:.0f} MiB before the steps, '
          f'+{rss_after - rss_before:.0f} MiB in training)')
    if args.ops:
        _print_bounds(model, optim_wrapper, batches[args.warmup:], step / args.steps)
    return 0


def _peak_rss_mib() -> float:
    """The peak resident memory of this process so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _random_frame_batches(cfg, count: int, batch_size: int, steps: int, frames) -> List[dict]:
    """``count`` batches of random binary frames (B, T, C, H, W) with random labels, already
    in the form a data preprocessor returns (marked ``preprocessed``)."""
    from mmpretrain.structures import DataSample
    num_classes = cfg.model.head.num_classes
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        inputs = (torch.rand(batch_size, steps, *frames, generator=g) < 0.1).float()
        labels = torch.randint(0, num_classes, (batch_size, ), generator=g)
        samples = [DataSample().set_gt_label(int(label)) for label in labels]
        batches.append(dict(inputs=inputs, data_samples=samples, preprocessed=True))
    return batches


def _train_step(model, optim_wrapper, batch) -> List[float]:
    """One training step as mmengine's ``train_step`` runs it; the seconds of its four parts
    (data preprocessor, forward with losses, backward, optimizer step with zero_grad)."""
    t0 = time.perf_counter()
    if batch.get('preprocessed'):
        data = dict(inputs=batch['inputs'], data_samples=batch['data_samples'])
    else:
        data = model.data_preprocessor(batch, True)
    t1 = time.perf_counter()
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    t2 = time.perf_counter()
    optim_wrapper.backward(loss)
    t3 = time.perf_counter()
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    t4 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2, t4 - t3]


def _print_bounds(model, optim_wrapper, batches, step_s: float) -> None:
    """``--ops``: the steps' time by kind of op, their dense FLOPs and the GEMM rate."""
    from torch.profiler import ProfilerActivity, profile

    from mmsdt.utils.step_profile import (CONV_BACKWARD, CONV_FORWARD, MATMUL, OP_KINDS,
                                          OVERHEAD, DenseFlopCounter, gemm_throughput,
                                          time_by_op_kind)
    print(f'\nprofiling the {len(batches)} timed steps again by kind of op', flush=True)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches:
            _train_step(model, optim_wrapper, batch)
    wall_us = (time.perf_counter() - start) * 1e6
    kinds = time_by_op_kind(prof.key_averages())
    self_us = sum(us for us, _ in kinds.values())
    if wall_us > self_us:  # main-thread time outside every recorded event
        kinds[OVERHEAD] = (kinds[OVERHEAD][0] + wall_us - self_us, kinds[OVERHEAD][1])
    total_us = max(wall_us, self_us)
    n = len(batches)
    width = max(len(k) for k in OP_KINDS) + 2
    print(f'{"kind of op (profiler self time)":<{width}}{"ms / step":>10}{"share":>8}'
          f'{"ops / step":>12}')
    for kind in OP_KINDS:
        us, count = kinds[kind]
        print(f'{kind:<{width}}{us / n / 1e3:>10.1f}{us / total_us * 100:>7.0f}%'
              f'{count / n:>12.0f}')
    print(f'{"profiled step":<{width}}{total_us / n / 1e3:>10.1f}   (unprofiled: '
          f'{step_s * 1e3:.1f}; the profiler inflates small ops most)')

    with DenseFlopCounter() as counter:
        _train_step(model, optim_wrapper, batches[0])
    flops = counter.dense_flops()
    dense = sum(flops.values())
    rates = {'float32': gemm_throughput(torch.float32)}
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        rates['bfloat16'] = gemm_throughput(torch.bfloat16)
    as_run_ms = sum(kinds[k][0] for k in (CONV_FORWARD, CONV_BACKWARD, MATMUL)) / n / 1e3
    as_run_ms *= step_s * 1e6 / (total_us / n)  # scaled to the unprofiled step
    print(f'\ndense layers per step (forward + backward): convolutions '
          f'{flops["convolution"] / 1e9:.2f} GFLOP, matrix products '
          f'{flops["matrix products"] / 1e9:.2f} GFLOP')
    print('GEMM rate of this CPU (2048^3 matrix product, best of 5): ' + ', '.join(
        f'{dtype} {rate / 1e9:.0f} GFLOP/s' for dtype, rate in rates.items()))
    floor_ms = dense / rates['float32'] * 1e3
    print(f'at the float32 rate the dense layers need at least {floor_ms:.1f} ms per step '
          f'({floor_ms / (step_s * 1e3) * 100:.0f} % of the step); as run (the convolution and '
          f'matrix-product rows, scaled to the unprofiled step) ~{as_run_ms:.0f} ms, i.e. '
          f'{floor_ms / max(as_run_ms, 1e-9) * 100:.0f} % of that rate')
    if 'bfloat16' in rates:
        print(f'at the bfloat16 rate: at least {dense / rates["bfloat16"] * 1e3:.1f} ms')


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
