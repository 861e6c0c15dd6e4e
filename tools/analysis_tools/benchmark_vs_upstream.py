"""Side-by-side speed and memory of mmsdt's ESpikeFormer and the paper's own model, and their
float64 parity.

    python tools/analysis_tools/benchmark_vs_upstream.py --upstream-dir PATH [--arch 19m]
        [--cases train:1024:1 train:512:2 eval:512:1 ...] [--impls upstream mmsdt ...]
        [--out FILE.json]
    python tools/analysis_tools/benchmark_vs_upstream.py --upstream-dir PATH --parity
        [--arch 19m] [--size 224] [--batch 2] [--seed 0]

``--parity`` builds the paper's classifier and mmsdt's (ImageClassifier with ESpikeFormer and
SpikeLinearClsHead), loads the same seeded random weights into both (BN statistics included,
so the neurons fire; into mmsdt's through the released-file converter), runs both in float64
on the same input and prints the max absolute difference of every stage output and of the
logits (:func:`mmsdt.models.backbones.e_spikeformer_parity.compare_with_upstream`). It exits 0
when every level differs by at most 1e-12 times the largest magnitude of the paper model's
output at that level (float64 summation-order noise; a real difference moves spike counts and
shows orders of magnitude above it), else 1; silent or saturated neurons, or a constant level,
also fail.

``PATH`` is a local checkout of the paper's repository (BICLab/Spike-Driven-Transformer-V3); the
script imports ``SDT_V3/Classification/Model_Base/models.py`` from it at run time (same blocks
and weights as the detection backbone ``SDEFormer``) and never copies it. Without
``--upstream-dir`` only mmsdt's rows are measured.

Every (implementation, case) runs in its own process with glibc's default allocator settings
(any ``MALLOC_*`` variable of the caller is removed), 2 threads unless ``--threads``:

* ``train:S:B`` - forward + backward in train mode of a B x 3 x S x S batch (loss = sum of the
  outputs), after one warm-up step; the median of ``--repeats`` steps (one step above 512²);
* ``eval:S:B`` - forward in eval mode without gradients.

Memory is the peak resident set size minus the resident size after the model was built and
the input allocated (``peak growth``), so torch's own footprint is not counted. A case that
fails (out of memory, time limit) is reported as such.

Implementations: ``upstream`` (the paper's model, its own neurons, float32); mmsdt's
ESpikeFormer in float32 (``mmsdt``: channels-last, the default; ``mmsdt-fp32-contiguous``:
contiguous NCHW), with bf16 autocast (``mmsdt-bf16``: ``autocast_dtype='bfloat16'``,
mixed precision like ``--amp``) and with gradient checkpointing on top (``mmsdt-bf16-cp``);
``mmsdt-unfused`` / ``mmsdt-bf16-unfused`` run with ``MMSDT_FUSED_KERNELS=0`` (the eager
neuron and BatchNorm instead of :mod:`mmsdt.snn.kernels`' compiled kernels). The first step
(``first step s``, not in the median) includes compiling those kernels, or loading them from
inductor's disk cache;
for eval also ``mmsdt-folded`` (``fold_bn`` + channels-last) and ``mmsdt-compiled``
(:func:`mmsdt.deployment.prepare_for_inference`: folded, channels-last, ``torch.compile``
with frozen weights; the compile time is excluded). Default: upstream, mmsdt, mmsdt-bf16,
mmsdt-bf16-cp for train cases; upstream, mmsdt and the two inference forms for eval cases.
"""
import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import time
import types

UPSTREAM_FILE = ('SDT_V3', 'Classification', 'Model_Base', 'models.py')
UPSTREAM_FACTORY = {
    '2.7m': 'Efficient_Spiking_Transformer_t',
    '5.1m': 'Efficient_Spiking_Transformer_s',
    '10m': 'Efficient_Spiking_Transformer_m',
    '19m': 'Efficient_Spiking_Transformer_l',
}
DEFAULT_CASES = ['eval:512:1', 'train:512:2', 'train:1024:1', 'train:256:1', 'train:2048:1']
IMPLS = ('upstream', 'mmsdt', 'mmsdt-bf16', 'mmsdt-bf16-cp', 'mmsdt-fp32-contiguous',
         'mmsdt-unfused', 'mmsdt-bf16-unfused', 'mmsdt-folded', 'mmsdt-compiled')
# training forms: ESpikeFormer options per implementation name
TRAIN_FORMS = {
    'mmsdt': {},
    'mmsdt-bf16': dict(autocast_dtype='bfloat16'),
    'mmsdt-bf16-cp': dict(autocast_dtype='bfloat16', with_cp=True),
    'mmsdt-fp32-contiguous': dict(channels_last=False),  # contiguous NCHW layout
    # '-unfused': with MMSDT_FUSED_KERNELS=0, the eager neuron and BN
    'mmsdt-unfused': {},
    'mmsdt-bf16-unfused': dict(autocast_dtype='bfloat16'),
}


def _rss_mb() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _default_limit_gb() -> float:
    with open('/proc/meminfo') as f:
        total_kb = int(f.readline().split()[1])  # MemTotal
    return round(0.85 * total_kb / 2**20, 1)


def load_upstream(upstream_dir: str, arch: str):
    """The paper's classification model for ``arch`` from a local checkout (random init)."""
    path = os.path.join(upstream_dir, *UPSTREAM_FILE)
    if not os.path.isfile(path):
        path = os.path.join(upstream_dir, 'models.py')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'--upstream-dir {upstream_dir}: no {"/".join(UPSTREAM_FILE)} '
                                f'(nor models.py) in it')
    # the file imports torchinfo and uses it only under __main__
    if 'torchinfo' not in sys.modules and importlib.util.find_spec('torchinfo') is None:
        sys.modules['torchinfo'] = types.ModuleType('torchinfo')
    spec = importlib.util.spec_from_file_location('sdt_v3_upstream_models', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, UPSTREAM_FACTORY[arch])()


def parity(upstream_dir: str, arch: str, size: int, batch: int, seed: int) -> int:
    """Run the float64 parity check and print its table; 0 when it passes, else 1."""
    from mmsdt.models.backbones.e_spikeformer_parity import compare_with_upstream
    report = compare_with_upstream(load_upstream(upstream_dir, arch), size=size, batch=batch,
                                   seed=seed, source=f'random weights (seed {seed})')
    print(f'{arch} ({UPSTREAM_FACTORY[arch]}), float64, input {batch}x3x{size}x{size}, '
          f'seed {seed}')
    for line in report.lines():
        print(line)
    return 0 if report.passed else 1


def build(impl: str, arch: str, upstream_dir: str, mode: str, example):
    import torch

    if impl == 'upstream':
        return load_upstream(upstream_dir, arch)
    from mmsdt.models import ESpikeFormer
    if impl in TRAIN_FORMS:
        return ESpikeFormer(arch, **TRAIN_FORMS[impl])
    model = ESpikeFormer(arch)
    if mode != 'eval':
        raise ValueError(f'{impl} is an inference form; use it with eval cases only')
    if impl == 'mmsdt-folded':
        from mmsdt.snn import fold_bn
        model.eval()
        fold_bn(model, torch.randn(1, 3, 64, 64))
        return model.to(memory_format=torch.channels_last)
    from mmsdt.deployment import prepare_for_inference
    return prepare_for_inference(model, example)


def _outputs_sum(out):
    if isinstance(out, (list, tuple)):
        return sum(o.float().sum() for o in out)
    return out.float().sum()


def run_case(impl: str, arch: str, mode: str, size: int, batch: int, repeats: int,
             upstream_dir: str) -> dict:
    """Measure one case in this process (called in a child process)."""
    import torch

    if impl.endswith('-unfused'):
        os.environ['MMSDT_FUSED_KERNELS'] = '0'
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    if impl in ('mmsdt-folded', 'mmsdt-compiled'):
        x = x.contiguous(memory_format=torch.channels_last)
    model = build(impl, arch, upstream_dir, mode, x)
    params = sum(p.numel() for p in model.parameters())
    base = _rss_mb()
    times = []
    if mode == 'eval':
        model.eval()
        with torch.no_grad():
            if impl == 'mmsdt-compiled':
                model(x)  # compiled once in prepare_for_inference; one more warm-up
            for i in range(repeats + 1):
                t = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t)
    else:
        model.train()
        for i in range(repeats + 1):
            t = time.perf_counter()
            _outputs_sum(model(x)).backward()
            model.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t)
    timed = sorted(times[1:]) if len(times) > 1 else times
    return dict(impl=impl, arch=arch, mode=mode, size=size, batch=batch, params=params,
                seconds=round(timed[len(timed) // 2], 5), first_step_seconds=round(times[0], 3),
                peak_growth_mb=round(_peak_mb() - base),
                threads=torch.get_num_threads(), torch=torch.__version__)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--upstream-dir', help='local checkout of the paper repository')
    parser.add_argument('--arch', default='19m', choices=sorted(UPSTREAM_FACTORY))
    parser.add_argument('--cases', nargs='+', default=DEFAULT_CASES,
                        help='MODE:SIZE:BATCH with MODE train or eval')
    parser.add_argument('--impls', nargs='+', choices=IMPLS,
                        help='default: upstream (with --upstream-dir), mmsdt, and the two '
                        'inference forms for eval cases')
    parser.add_argument('--repeats', type=int, default=3, help='timed steps up to 512²')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--timeout', type=int, default=1800, help='seconds per case')
    parser.add_argument('--memory-limit-gb', type=float, default=_default_limit_gb(),
                        help='address-space limit of each case (a case above it fails with '
                        'out of memory instead of meeting the kernel OOM killer); default 85 %% '
                        'of the machine memory')
    parser.add_argument('--out', default='work_dirs/benchmark_vs_upstream.json')
    parser.add_argument('--parity', action='store_true',
                        help='compare outputs in float64 instead of timing (needs '
                        '--upstream-dir); exit 1 when they differ')
    parser.add_argument('--size', type=int, default=224, help='--parity: input side')
    parser.add_argument('--batch', type=int, default=2, help='--parity: images')
    parser.add_argument('--seed', type=int, default=0, help='--parity: weights and input')
    parser.add_argument('--case', help=argparse.SUPPRESS)  # child: impl,arch,mode,size,batch
    args = parser.parse_args(argv)
    if args.case:
        limit = int(args.memory_limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        impl, arch, mode, size, batch = args.case.split(',')
        print(json.dumps(run_case(impl, arch, mode, int(size), int(batch), args.repeats,
                                  args.upstream_dir)))
        return 0
    if args.parity:
        if not args.upstream_dir:
            parser.error('--parity needs --upstream-dir (a checkout of the paper repository)')
        import torch
        torch.set_num_threads(args.threads)
        return parity(args.upstream_dir, args.arch, args.size, args.batch, args.seed)

    cases = []
    for text in args.cases:
        try:
            mode, size, batch = text.split(':')
            size, batch = int(size), int(batch)
            assert mode in ('train', 'eval') and size > 0 and batch > 0
        except (ValueError, AssertionError):
            parser.error(f'--cases: {text!r} is not MODE:SIZE:BATCH (MODE train or eval)')
        cases.append((mode, size, batch))
    if args.upstream_dir:
        load_upstream(args.upstream_dir, args.arch)  # a wrong path fails here, not per case
    env = {k: v for k, v in os.environ.items() if not k.startswith('MALLOC_')}
    env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    results = []
    print(f'{"impl":<20}{"case":<16}{"seconds":>10}{"first step s":>14}{"peak growth MB":>16}',
          flush=True)
    for mode, size, batch in cases:
        impls = args.impls or ((['upstream'] if args.upstream_dir else []) +
                               (['mmsdt', 'mmsdt-folded', 'mmsdt-compiled'] if mode == 'eval'
                                else ['mmsdt', 'mmsdt-bf16', 'mmsdt-bf16-cp']))
        for impl in impls:
            if impl in ('mmsdt-folded', 'mmsdt-compiled') and mode != 'eval':
                continue
            repeats = args.repeats if size <= 512 else 1
            cmd = [sys.executable, __file__, '--case', f'{impl},{args.arch},{mode},{size},{batch}',
                   '--repeats', str(repeats)]
            cmd += ['--memory-limit-gb', str(args.memory_limit_gb)]
            if args.upstream_dir:
                cmd += ['--upstream-dir', args.upstream_dir]
            label = f'{mode} {batch}x{size}²'
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                      timeout=args.timeout)
                if proc.returncode != 0:
                    tail = (proc.stderr.strip().splitlines() or ['(no output)'])[-1]
                    reason = ('killed (out of memory?)' if proc.returncode < 0 else tail)[:120]
                    if any(s in proc.stderr for s in ('bad_alloc', 'MemoryError',
                                                      'not enough memory', 'allocate memory')):
                        reason = f'out of memory (over {args.memory_limit_gb:g} GB)'
                    row = dict(impl=impl, mode=mode, size=size, batch=batch, failed=reason)
                else:
                    row = json.loads(proc.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                row = dict(impl=impl, mode=mode, size=size, batch=batch,
                           failed=f'over {args.timeout} s')
            results.append(row)
            if 'failed' in row:
                print(f'{impl:<20}{label:<16}  FAILED: {row["failed"]}', flush=True)
            else:
                print(f'{impl:<20}{label:<16}{row["seconds"]:>10.3f}'
                      f'{row["first_step_seconds"]:>14.3f}{row["peak_growth_mb"]:>16}', flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(dict(machine=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                       arch=args.arch, results=results), f, indent=2)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
