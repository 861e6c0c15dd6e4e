"""Build E-SpikeFormer, load a released-format checkpoint, print its pyramid and spikes.

    python tools/demo/backbone_demo.py [--arch 19m] [--checkpoint FILE] [--image FILE]
                                       [--size 512] [--work-dir DIR]

Without ``--checkpoint`` a file in the released ImageNet layout (``model``/``args``
Namespace/...) is written first (``save_released_format`` of
``mmsdt.models.backbones.e_spikeformer_converter``) from seeded random weights whose BN
statistics are estimated on toy scenes: the real files cannot be downloaded here, and this
exercises exactly the loading path they take. The backbone is built through the mmsdt
registry with ``init_cfg=dict(type='Pretrained')``, run on one image (default: a toy scene
from ``mmsdt.datasets.toy``) in integer mode and checked in spike-driven mode (binary spike
maps, every layer compared with integer mode; see ``mmsdt.snn.verify_spike_driven``), and the
per-stage spike statistics are printed and drawn to ``firing_rates.png``.
"""
import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from mmsdt.datasets.toy import toy_scene
from mmsdt.models.backbones.e_spikeformer import STAGE_LAYOUT
from mmsdt.models.backbones.e_spikeformer_converter import (released_state_dict,
                                                             save_released_format)
from mmsdt.registry import MODELS
from mmsdt.snn import NeuronStats, SpikeRecorder, verify_spike_driven
from mmsdt.utils.quiet import hide_known_warnings
from mmsdt.visualization import draw_layer_bars

IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def step(i: int, n: int, text: str) -> None:
    print(f'[{i}/{n}] {text}', flush=True)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HWC RGB uint8 -> normalised 1x3xHxW float tensor."""
    norm = (img.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(norm.transpose(2, 0, 1).copy())[None]


def calibrate_bn(model: torch.nn.Module, size: int) -> None:
    """Give random weights realistic BN statistics (estimated on two toy scenes), so
    neurons fire as in a trained network instead of staying silent."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        half = size // 2
        model(torch.cat([to_tensor(toy_scene(half, half, seed, 'rgb')) for seed in (1, 2)]))
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.1
    model.eval()


def load_image(path: str, size: int) -> np.ndarray:
    """An image file as a ``size x size`` RGB uint8 array."""
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return cv2.resize(img[:, :, ::-1], (size, size))


def stage_view(model: nn.Module) -> nn.ModuleDict:
    """The backbone's modules regrouped by stage (the same module objects, nothing copied):
    recorded through this view, a neuron is named ``stage<k>.<its name in the backbone>``,
    so ``SpikeRecorder.grouped(1)`` sums per stage."""
    return nn.ModuleDict({
        f'stage{k}': nn.ModuleDict({name: getattr(model, name) for name in names})
        for k, names in enumerate(STAGE_LAYOUT)
    })


def split_name(name: str) -> Tuple[int, str]:
    """``'stage3.block3.0.attn.x'`` (a name under :func:`stage_view`) ->
    ``(3, 'block3.0.attn.x')`` (the stage and the name in the backbone)."""
    stage, rest = name.split('.', 1)
    return int(stage[len('stage'):]), rest


def plot_rates(stats: Dict[str, NeuronStats], path: str) -> str:
    """Bar chart of every neuron's firing rate, coloured by stage; returns ``path``."""
    split = [split_name(name) for name in stats]
    return draw_layer_bars(path, [name for _, name in split],
                           [st.firing_rate for st in stats.values()],
                           [f'stage {k}' for k, _ in split], 'firing rate  E[s] / D',
                           'E-SpikeFormer spike firing rates per neuron (colour = stage)')


def stage_rows(rec: SpikeRecorder) -> List[dict]:
    """Per-stage totals of a recorder made on :func:`stage_view`."""
    rows = []
    for key, st in rec.grouped(1).items():
        rows.append(dict(stage=int(key[len('stage'):]),
                         neurons=sum(name.startswith(key + '.') for name in rec.stats),
                         mean_count=st.mean_count, firing_rate=st.firing_rate,
                         nonzero_rate=st.nonzero_rate))
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    hide_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', default='19m')
    parser.add_argument('--checkpoint', help='released ImageNet file or mmengine checkpoint')
    parser.add_argument('--image', help='an image file (default: a toy scene)')
    parser.add_argument('--size', type=int, default=512, help='square input side')
    parser.add_argument('--work-dir', default='work_dirs/backbone_demo')
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    n = 5
    torch.manual_seed(0)

    ckpt = args.checkpoint
    if ckpt is None:
        ckpt = os.path.join(args.work_dir, f'e_spikeformer_{args.arch}_released_format.pth')
        if not os.path.exists(ckpt):
            step(1, n, f'writing a released-format checkpoint (seeded random weights) to {ckpt}')
            source = MODELS.build(dict(type='mmsdt.ESpikeFormer', arch=args.arch))
            calibrate_bn(source, args.size)
            # the released ImageNet classifier: head.weight / head.bias (not used here)
            head = dict(weight=nn.init.trunc_normal_(torch.empty(1000, source.embed_dims[-1]),
                                                      std=.02), bias=torch.zeros(1000))
            save_released_format({**released_state_dict(source),
                                  **{f'head.{k}': v for k, v in head.items()}}, ckpt)
        else:
            step(1, n, f'reusing {ckpt}')
    else:
        step(1, n, f'using checkpoint {ckpt}')

    step(2, n, f'building mmsdt.ESpikeFormer({args.arch!r}) with init_cfg=Pretrained')
    model = MODELS.build(
        dict(type='mmsdt.ESpikeFormer', arch=args.arch, out_indices=(0, 1, 2, 3, 4),
             init_cfg=dict(type='Pretrained', checkpoint=ckpt)))
    model.init_weights()
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    print(f'      {params:,} backbone parameters loaded')

    step(3, n, 'preparing the input image')
    if args.image:
        img = load_image(args.image, args.size)
    else:
        img = toy_scene(args.size, args.size, 0, 'rgb')
    x = to_tensor(img)

    step(4, n, 'forward in integer mode, then spike-driven (binary spike maps) in lock-step')
    with torch.no_grad(), SpikeRecorder(stage_view(model)) as rec:
        t = time.perf_counter()
        feats = model(x)
        t_int = time.perf_counter() - t
    stats, stages = dict(rec.stats), stage_rows(rec)
    t = time.perf_counter()
    check = verify_spike_driven(model, x)
    t_sd = time.perf_counter() - t
    elements = sum(check.elements.values())
    print(f'      integer forward {t_int:.2f}s; spike-driven check {t_sd:.2f}s: outputs agree to '
          f'{check.output_deviation:.1e}, membrane potentials to '
          f'{check.max_potential_deviation:.1e} (relative); {check.total_tie_flips} of '
          f'{elements:,} counts sit on a rounding tie that float summation order decides')
    if not check.ok():
        print(f'ERROR: spike-driven execution disagrees with integer mode '
              f'({check.untied_flips} counts off a tie)', file=sys.stderr)
        return 1
    deviation = check.output_deviation

    step(5, n, 'feature pyramid and per-stage spike statistics')
    print(f'\n  {"point":>5} {"stride":>6} {"channels":>8}  shape')
    for i, (f, s) in enumerate(zip(feats, model.out_strides)):
        print(f'  {i:>5} {s:>6} {f.shape[1]:>8}  {tuple(f.shape)}')
    print(f'\n  {"stage":>5} {"neurons":>7} {"mean s":>7} {"firing rate":>11} {"nonzero":>8}')
    for row in stages:
        print(f'  {row["stage"]:>5} {row["neurons"]:>7} {row["mean_count"]:>7.3f} '
              f'{row["firing_rate"]:>11.3f} {row["nonzero_rate"]:>8.3f}')
    png = os.path.join(args.work_dir, 'firing_rates.png')
    plot_rates(stats, png)
    with open(os.path.join(args.work_dir, 'spike_stats.json'), 'w') as f:
        json.dump(dict(arch=args.arch, checkpoint=ckpt, input=list(x.shape),
                       out_strides=model.out_strides, spike_driven_deviation=deviation,
                       stages=stages,
                       neurons={split_name(k)[1]: dict(firing_rate=v.firing_rate,
                                                       nonzero_rate=v.nonzero_rate,
                                                       shape=v.shape)
                                for k, v in stats.items()}), f, indent=1)
    print(f'\nbackbone demo OK: {args.arch}, {len(stats)} neurons, spike-driven == integer '
          f'(max rel. dev. {deviation:.1e}); wrote {png}')
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
