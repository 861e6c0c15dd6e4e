"""Speed and memory of ESpikeFormer on this machine (numbers, not a test).

    python tools/analysis_tools/benchmark_backbone.py [--archs 2.7m 19m] [--out FILE.json]

Each case (arch, input size, batch) runs in its own process so peak memory is its own:
forward ms (eval, no grad), forward+backward ms (train mode, sum of all outputs) and the peak
resident set size of that process (``ru_maxrss``, which includes torch itself). Prints a
table and writes JSON.

glibc's dynamic mmap threshold keeps many freed activation buffers in the heap, so with the
default allocator settings the RSS of a CPU training step overstates live memory (by ~1.7 GB
for 19m at 1024²). Children therefore run with ``MALLOC_MMAP_THRESHOLD_=65536`` (large
buffers always go back to the OS) unless ``--default-malloc`` is given; the same variable is
recommended for CPU training.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

CASES = [(224, 8), (1024, 1)]
ARCHS = ['2.7m', '5.1m', '10m', '19m']


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def run_case(arch: str, size: int, batch: int, repeats: int) -> dict:
    """Measure one case in this process (called in a child process)."""
    import torch
    from mmsdt.models import ESpikeFormer

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
    model.train()
    fwd_bwd = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        sum(o.sum() for o in model(x)).backward()
        model.zero_grad(set_to_none=True)
        if i:
            fwd_bwd.append((time.perf_counter() - t) * 1e3)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return dict(arch=arch, size=size, batch=batch, forward_ms=round(_median(fwd), 1),
                forward_backward_ms=round(_median(fwd_bwd), 1), peak_rss_mb=round(peak_mb),
                threads=torch.get_num_threads(), torch=torch.__version__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Benchmark ESpikeFormer forward/backward.')
    parser.add_argument('--archs', nargs='+', default=ARCHS)
    parser.add_argument('--repeats', type=int, default=3, help='timed runs after one warm-up')
    parser.add_argument('--out', default='work_dirs/benchmark_backbone.json')
    parser.add_argument('--default-malloc', action='store_true',
                        help='do not set MALLOC_MMAP_THRESHOLD_ for the measured processes')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # child-process entry: arch,size,batch
    args = parser.parse_args(argv)

    if args.case:
        arch, size, batch = args.case.split(',')
        print(json.dumps(run_case(arch, int(size), int(batch), args.repeats)))
        return 0

    env = dict(os.environ)
    if not args.default_malloc:
        env.setdefault('MALLOC_MMAP_THRESHOLD_', '65536')
    results = []
    header = f'{"arch":>6} {"input":>12} {"fwd ms":>10} {"fwd+bwd ms":>12} {"peak RSS MB":>12}'
    print(header, flush=True)
    for arch in args.archs:
        for size, batch in CASES:
            proc = subprocess.run(
                [sys.executable, __file__, '--case', f'{arch},{size},{batch}', '--repeats',
                 str(1 if size > 512 else args.repeats)],
                capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                print(f'{arch} {size}x{size} b{batch} FAILED:\n{proc.stderr}', file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r['malloc_mmap_threshold'] = env.get('MALLOC_MMAP_THRESHOLD_', 'glibc default')
            results.append(r)
            print(f'{arch:>6} {f"{batch}x{size}²":>12} {r["forward_ms"]:>10.1f} '
                  f'{r["forward_backward_ms"]:>12.1f} {r["peak_rss_mb"]:>12}', flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                       results=results), f, indent=2)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
