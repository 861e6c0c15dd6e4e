"""The prepared GPU check of mmsdt: what a first run on one GPU must tell (numbers, not a test).

    python tools/misc/gpu_check.py --out DIR [--device cuda] [--quick] [--sections NAME ...]

``tools/misc/gpu_check.sh OUT_DIR`` runs it under a time limit (8 minutes). Sections:

* ``env``: torch / CUDA / device, and whether ``torch.compile`` (inductor) compiles and runs a
  small function on the device;
* ``cls_step``: training steps of the ImageNet E-SpikeFormer 19m config (its model, loss and
  Lamb optimizer; synthetic 224x224 images), in float32 and with AMP (mmengine's
  ``AmpOptimWrapper``, float16 and a dynamic loss scale, as the paper's recipe; bfloat16
  autocast on CPU): milliseconds per step and peak memory
  (``torch.cuda.max_memory_allocated``);
* ``kernel_path``: which path the training step took: the compiled fused BatchNorm + neuron
  kernels (:mod:`mmsdt.snn.kernels`, calls counted by ``kernel_calls``) or the eager modules,
  and ``compile_failure``;
* ``det_step``: training iterations of the Mask R-CNN 19m COCO config at 800x1333 (synthetic
  images, boxes and masks; the config's images per GPU), float32: time and peak memory;
* ``spike_driven``: the 19m backbone in float64 on the device, integer mode against
  spike-driven mode (:func:`mmsdt.snn.verify_spike_driven` in lock-step, and free-running:
  ``model(x)`` against ``with spike_driven(model): model(x)``), relative to the output scale.

Every section runs on its own (an error is recorded and the next one runs); the report
(``gpu_check.json`` and ``gpu_check.md`` in ``--out``) is rewritten after each, so a run cut
short by the time limit still leaves the sections it finished. ``--device cpu --quick`` runs
the same code with the 2.7m model and small inputs (a smoke test of the script).
"""
import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
CLS_CONFIG = REPO / 'configs/e-spikeformer/cls/e-spikeformer-19m_8xb256-200e_in1k.py'
DET_CONFIG = REPO / 'configs/e-spikeformer/det/mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py'
SECTIONS = ('env', 'cls_step', 'kernel_path', 'det_step', 'spike_driven')


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _reset_peak(device):
    if device.type == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device):
    if device.type == 'cuda':
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return None  # no allocator statistics on CPU


def _timed_steps(step, device, warmup, steps):
    """Run ``step`` ``warmup`` times, then time ``steps`` calls; ms per step and peak MB
    (peak over the timed steps and the warm-up; the warm-up allocates the same tensors)."""
    _reset_peak(device)
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    ms = (time.perf_counter() - start) * 1000 / steps
    return dict(ms_per_step=round(ms, 1), peak_memory_mb=_peak_mb(device), timed_steps=steps,
                warmup_steps=warmup)


# ----------------------------------------------------------------------------- sections
def section_env(args, device):
    info = dict(torch=torch.__version__, python=platform.python_version(),
                cuda_build=torch.version.cuda, device=str(device))
    if device.type == 'cuda':
        props = torch.cuda.get_device_properties(device)
        info.update(device_name=props.name, capability=f'{props.major}.{props.minor}',
                    memory_gb=round(props.total_memory / 2**30, 1))
    try:
        import mmcv
        from mmcv.ops import RoIAlign  # noqa: F401  (mmcv's compiled ops are there)
        info['mmcv'] = mmcv.__version__
    except Exception as err:  # the det section names it again if it matters
        info['mmcv'] = f'unusable: {type(err).__name__}: {err}'

    def probe(x):
        return torch.relu(x * 2 + 1).sum()

    x = torch.randn(1024, device=device)
    try:
        compiled = torch.compile(probe, dynamic=False)
        info['torch_compile'] = 'ok' if torch.allclose(compiled(x), probe(x)) else 'wrong result'
    except Exception as err:
        info['torch_compile'] = f'fails: {type(err).__name__}: {str(err).splitlines()[0]}'
    return info


def _cls_model(args, device):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    import mmsdt.models  # noqa: F401  (registers the mmsdt modules)
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(CLS_CONFIG))
    if args.quick:
        cfg.model.backbone.arch = '2.7m'
        cfg.model.head.in_channels = 128
    return cfg, MODELS.build(cfg.model).to(device).train()


def _cls_batch(args, device):
    from mmpretrain.structures import DataSample
    size = 64 if args.quick else 224
    batch = args.cls_batch or (4 if args.quick else 64)
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
              for _ in range(batch)]
    labels = torch.randint(0, 1000, (batch, ), generator=g)
    samples = [DataSample().set_gt_label(int(label)) for label in labels]
    return dict(inputs=inputs, data_samples=samples), dict(batch=batch, size=size)


def _optim_wrapper(cfg, model, device, amp):
    from mmengine.optim import build_optim_wrapper
    wrapper_cfg = cfg.optim_wrapper.copy()
    if amp and device.type == 'cuda':  # the recipe's wrapper: float16, dynamic loss scale
        wrapper_cfg.update(type='AmpOptimWrapper', dtype='float16', loss_scale='dynamic')
    else:  # float32, or bfloat16 autocast around the step on CPU (mmengine's AMP needs a GPU)
        wrapper_cfg.update(type='OptimWrapper')
        for key in ('dtype', 'loss_scale'):
            wrapper_cfg.pop(key, None)
    return build_optim_wrapper(model, wrapper_cfg)


def section_cls_step(args, device, state):
    from mmsdt.snn import kernels
    cfg, model = _cls_model(args, device)
    data, shape = _cls_batch(args, device)
    warmup, steps = (1, 1) if args.quick else (3, 5)
    result = dict(config=str(CLS_CONFIG.relative_to(REPO)), arch=cfg.model.backbone.arch,
                  images=f"{shape['batch']} x 3 x {shape['size']}^2")
    calls_before = kernels.kernel_calls()
    for mode in ('fp32', 'amp'):
        wrapper = _optim_wrapper(cfg, model, device, amp=(mode == 'amp'))
        if mode == 'amp' and device.type == 'cpu':
            autocast = dict(device_type='cpu', dtype=torch.bfloat16, enabled=True)
        else:
            autocast = dict(device_type=device.type, enabled=False)
        losses = []

        def step():
            with torch.autocast(**autocast):
                out = model.train_step(data, wrapper)
            losses.append(float(out['loss'].detach()))

        result[mode] = _timed_steps(step, device, warmup, steps)
        if mode == 'fp32':
            result[mode]['precision'] = 'float32'
        elif device.type == 'cuda':
            result[mode]['precision'] = f'AmpOptimWrapper ({wrapper.cast_dtype})'
        else:
            result[mode]['precision'] = 'bfloat16 autocast (CPU)'
        result[mode]['optim_wrapper'] = type(wrapper).__name__
        result[mode]['losses_finite'] = bool(np.isfinite(losses).all())
        result[mode]['first_loss'] = round(losses[0], 4)
    state['cls_kernel_calls'] = _calls_since(calls_before, kernels.kernel_calls())
    return result


def _calls_since(before, after):
    out = {}
    for name, counts in after.items():
        prev = before.get(name, {})
        diff = {how: n - prev.get(how, 0) for how, n in counts.items()}
        if any(diff.values()):
            out[name] = diff
    return out


def section_kernel_path(args, device, state):
    from mmsdt.snn import kernels
    from mmsdt.snn.kernels.fused_bn_spike import fused_kernels_enabled
    calls = state.get('cls_kernel_calls')
    if calls is None:
        return dict(note='the cls_step section did not run; nothing to report')
    compiled = sum(c.get('compiled', 0) for c in calls.values())
    eager = sum(c.get('eager', 0) for c in calls.values())
    if compiled and not eager:
        path = 'fused kernels (compiled)'
    elif eager and not compiled:
        path = 'fused kernels fell back to eager torch'
    elif compiled and eager:
        path = 'mixed: some fused kernels compiled, some fell back'
    else:
        path = 'eager modules (no fused kernel call)'
    return dict(path=path, kernel_calls=calls, compile_failure=kernels.compile_failure(),
                fused_kernels_enabled=fused_kernels_enabled(), device=str(device))


def _det_batch(args, cfg, device):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    h, w = (128, 192) if args.quick else (800, 1333)
    batch = args.det_batch or (1 if args.quick else cfg.train_dataloader.batch_size)
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8)))
        boxes, masks = [], np.zeros((5, h, w), dtype=np.uint8)
        for i in range(5):
            bw, bh = rng.uniform(0.1, 0.4) * w, rng.uniform(0.1, 0.4) * h
            x0, y0 = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            boxes.append([x0, y0, x0 + bw, y0 + bh])
            masks[i, int(y0):int(y0 + bh), int(x0):int(x0 + bw)] = 1
        gt = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                          labels=torch.from_numpy(rng.integers(0, 80, 5)),
                          masks=BitmapMasks(masks, h, w))
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                             scale_factor=(1.0, 1.0), flip=False))
        sample.gt_instances = gt
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples), dict(batch=batch, h=h, w=w)


def section_det_step(args, device, state):
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    register_all_modules(init_default_scope=False)
    init_default_scope('mmdet')
    import mmsdt.models  # noqa: F401
    from mmdet.registry import MODELS
    cfg = Config.fromfile(str(DET_CONFIG))
    cfg.model.backbone.pop('init_cfg', None)  # random weights: no download
    if args.quick:
        cfg.model.backbone.arch = '2.7m'
        cfg.model.neck.in_channels = [24, 48, 96, 128]
    model = MODELS.build(cfg.model).to(device).train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    data, shape = _det_batch(args, cfg, device)
    losses = []

    def step():
        out = model.train_step(data, wrapper)
        losses.append(float(sum(v.detach() for k, v in out.items() if 'loss' in k)))

    warmup, steps = (1, 1) if args.quick else (1, 3)
    result = dict(config=str(DET_CONFIG.relative_to(REPO)), arch=cfg.model.backbone.arch,
                  images=f"{shape['batch']} x 3 x {shape['h']} x {shape['w']}",
                  precision='fp32', **_timed_steps(step, device, warmup, steps))
    result['losses_finite'] = bool(np.isfinite(losses).all())
    return result


def section_spike_driven(args, device, state):
    from mmsdt.models import ESpikeFormer
    from mmsdt.snn import spike_driven, verify_spike_driven
    arch = '2.7m' if args.quick else '19m'
    size = 64 if args.quick else 224
    torch.manual_seed(0)
    model = ESpikeFormer(arch, out_indices=(0, 1, 2, 3, 4)).to(device, torch.float64)
    with torch.no_grad():  # realistic BN statistics
        model.train()(torch.randn(4, 3, size, size, dtype=torch.float64, device=device))
    model.eval()
    x = torch.randn(1, 3, size, size, dtype=torch.float64, device=device)
    report = verify_spike_driven(model, x)
    with torch.no_grad():
        integer = model(x)
        with spike_driven(model):
            driven = model(x)
    free = max(float((d - i).abs().max()) / max(float(i.abs().max()), 1e-30)
               for d, i in zip(driven, integer))
    return dict(arch=arch, input=f'1 x 3 x {size}^2 float64',
                lockstep_ok_1e_12=bool(report.ok(1e-12)),
                lockstep_output_deviation=report.output_deviation,
                lockstep_max_potential_deviation=report.max_potential_deviation,
                tie_flips=sum(report.tie_flips.values()), untied_flips=report.untied_flips,
                binary_maps=f'{report.binary_maps} / {report.maps}',
                free_running_max_relative_difference=free,
                free_running_ok_1e_12=free <= 1e-12)


# ----------------------------------------------------------------------------- report
def _markdown(report):
    lines = ['# mmsdt GPU check', '']
    for name, body in report['sections'].items():
        lines += [f'## {name}', '']
        if isinstance(body, dict):
            for key, value in body.items():
                lines.append(f'- {key}: {json.dumps(value) if isinstance(value, dict) else value}')
        lines.append('')
    return '\n'.join(lines)


def _write(out, report):
    (out / 'gpu_check.json').write_text(json.dumps(report, indent=2) + '\n')
    (out / 'gpu_check.md').write_text(_markdown(report))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='folder for gpu_check.json / .md')
    parser.add_argument('--device', default='cuda', help='cuda (default), cuda:N or cpu')
    parser.add_argument('--quick', action='store_true',
                        help='2.7m model and small inputs (a smoke test, e.g. on CPU)')
    parser.add_argument('--sections', nargs='+', choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument('--cls-batch', type=int, default=None,
                        help='images per classification step (default 64; 4 with --quick)')
    parser.add_argument('--det-batch', type=int, default=None,
                        help="images per detection step (default: the config's per-GPU batch)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmengine.logging import MMLogger
    from mmsdt.utils.quiet import hide_known_warnings
    hide_known_warnings()
    # progress and results only: not the optimizer builders' per-parameter INFO lines
    MMLogger.get_instance('gpu_check', log_level='WARNING')
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: torch sees no CUDA device here (use --device cpu '
                         '--quick for a smoke test)')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = dict(device=str(device), quick=args.quick, sections={})
    state = {}
    failed = []
    for name in args.sections:
        start = time.perf_counter()
        print(f'[gpu_check] {name} ...', flush=True)
        try:
            fn = globals()[f'section_{name}']
            body = fn(args, device) if name == 'env' else fn(args, device, state)
        except Exception as err:
            failed.append(name)
            body = dict(error=f'{type(err).__name__}: {err}',
                        traceback=traceback.format_exc().splitlines()[-6:])
        body['seconds'] = round(time.perf_counter() - start, 1)
        report['sections'][name] = body
        _write(out, report)
        print(f'[gpu_check] {name}: {json.dumps(body)[:600]}', flush=True)
    print(f'[gpu_check] report: {out / "gpu_check.md"}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
