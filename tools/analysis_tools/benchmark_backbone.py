"""Speed and memory of ESpikeFormer on this machine (numbers, not a test).

    python tools/analysis_tools/benchmark_backbone.py [--archs 2.7m 19m] [--out FILE.json]

Each case (arch, input size, batch) runs in its own processes so peak memory is its own:
forward ms (eval, no grad), the same for the deployment form (``forward_folded_ms``:
:func:`mmsdt.snn.fold_bn` folds BN and 1/norm, weights and input in channels-last memory
format) and forward+backward ms (train mode, sum of all outputs), timed
with default allocator settings, and the peak resident set size (``ru_maxrss``, torch
included) of a forward+backward step, measured twice:

* ``peak_rss_mb``: glibc defaults. Its dynamic mmap threshold keeps many freed activation
  buffers in the heap, so this overstates live memory (by ~1.7 GB for 19m at 1024²);
* ``peak_rss_mmap64k_mb``: a separate process with ``MALLOC_MMAP_THRESHOLD_=65536``, where
  large buffers always go back to the OS: close to the live tensor memory. (That setting
  makes every large allocation a system call, so it is not used for the timings.)

Prints a table and writes JSON.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

CASES = [(224, 8), (512, 1), (1024, 1)]
ARCHS = ['2.7m', '5.1m', '10m', '19m']


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def run_case(arch: str, size: int, batch: int, repeats: int) -> dict:
    """Measure one case in this process (called in a child process).

    ``repeats=0`` runs one forward and one forward+backward step (memory only).
    """
    import copy

    import torch
    from mmsdt.models import ESpikeFormer
    from mmsdt.snn import fold_bn

    torch.manual_seed(0)
    model = ESpikeFormer(arch)
    x = torch.randn(batch, 3, size, size)
    model.eval()
    fwd = []
    with torch.no_grad():
        for i in range(repeats + 1):
            t = time.perf_counter()
            model(x)
            if i:  # first run is warm-up
                fwd.append((time.perf_counter() - t) * 1e3)
    fwd_folded = []
    if repeats:  # not in the memory-only run
        folded = copy.deepcopy(model)
        fold_bn(folded, torch.randn(1, 3, 64, 64))
        folded = folded.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            for i in range(repeats + 1):
                t = time.perf_counter()
                folded(x_cl)
                if i:
                    fwd_folded.append((time.perf_counter() - t) * 1e3)
        del folded
    model.train()
    fwd_bwd = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        sum(o.sum() for o in model(x)).backward()
        model.zero_grad(set_to_none=True)
        if i:
            fwd_bwd.append((time.perf_counter() - t) * 1e3)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return dict(arch=arch, size=size, batch=batch,
                forward_ms=round(_median(fwd), 1) if fwd else None,
                forward_folded_ms=round(_median(fwd_folded), 1) if fwd_folded else None,
                forward_backward_ms=round(_median(fwd_bwd), 1) if fwd_bwd else None,
                peak_rss_mb=round(peak_mb), threads=torch.get_num_threads(),
                torch=torch.__version__)


def main(argv=None) -> int:
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    parser = argparse.ArgumentParser(description='Benchmark ESpikeFormer forward/backward.')
    parser.add_argument('--archs', nargs='+', default=ARCHS)
    parser.add_argument('--repeats', type=int, default=3, help='timed runs after one warm-up')
    parser.add_argument('--out', default='work_dirs/benchmark_backbone.json')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # child-process entry: arch,size,batch
    args = parser.parse_args(argv)
    if args.case:
        arch, size, batch = args.case.split(',')
        print(json.dumps(run_case(arch, int(size), int(batch), args.repeats)))
        return 0

    def child(arch, size, batch, repeats, env):
        proc = subprocess.run(
            [sys.executable, __file__, '--case', f'{arch},{size},{batch}', '--repeats',
             str(repeats)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f'{arch} {size}x{size} b{batch} failed:\n{proc.stderr}')
        return json.loads(proc.stdout.strip().splitlines()[-1])

    default_env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}
    mmap_env = dict(default_env, MALLOC_MMAP_THRESHOLD_='65536')
    results = []
    print(f'{"arch":>6} {"input":>10} {"fwd ms":>9} {"folded fwd ms":>14} {"fwd+bwd ms":>11} '
          f'{"peak RSS MB":>12} {"peak RSS MB (mmap 64K)":>23}', flush=True)
    for arch in args.archs:
        for size, batch in CASES:
            r = child(arch, size, batch, 1 if size > 512 else args.repeats, default_env)
            r['peak_rss_mmap64k_mb'] = child(arch, size, batch, 0, mmap_env)['peak_rss_mb']
            results.append(r)
            print(f'{arch:>6} {f"{batch}x{size}²":>10} {r["forward_ms"]:>9.1f} '
                  f'{r["forward_folded_ms"]:>14.1f} {r["forward_backward_ms"]:>11.1f} '
                  f'{r["peak_rss_mb"]:>12} {r["peak_rss_mmap64k_mb"]:>23}', flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                       results=results), f, indent=2)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
