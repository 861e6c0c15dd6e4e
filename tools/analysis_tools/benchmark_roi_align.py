"""RoIAlign forward / backward time on CPU: torchvision's ``roi_align`` (what mmcv's
``RoIAlign(use_torchvision=True)`` runs) against :class:`mmsdt.ops.SparseRoIAlign` (numbers,
not a test).

    python tools/analysis_tools/benchmark_roi_align.py [--threads 2] [--repeats 10]

Cases: the toy detector's RoI extractors (4 images, 64-channel level-0 map of a 192-px input,
512 box RoIs at 7x7, 64 mask RoIs at 14x14) and a COCO-sized one (2 images, 256 channels,
200x304 level-0 map, 1024 RoIs at 7x7). RoIs are random boxes of the sizes mmdet maps to level
0 (< 112 px). Median of ``--repeats`` runs after one warm-up; the backward is that of
``out.sum()`` w.r.t. the feature map.
"""
import argparse
import time

import torch
from torchvision.ops import roi_align

from mmsdt.ops import sparse_roi_align
from mmsdt.utils.quiet import hide_known_warnings

CASES = (  # name, (N, C, H, W), RoIs, output size, stride
    ('toy bbox 7x7', (4, 64, 48, 48), 512, 7, 4),
    ('toy mask 14x14', (4, 64, 48, 48), 64, 14, 4),
    ('COCO bbox 7x7', (2, 256, 200, 304), 1024, 7, 4),
)


def _rois(num, images, height, width, stride, generator):
    size = torch.rand(num, 2, generator=generator) * 100 + 8  # box sides 8-108 px
    xy = torch.rand(num, 2, generator=generator) * torch.tensor([width, height]) * stride * 0.9
    image = torch.randint(0, images, (num, 1), generator=generator).float()
    return torch.cat([image, xy, xy + size], 1)


def _time(fn, feats, repeats):
    forward, backward = [], []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        out = fn(feats)
        t1 = time.perf_counter()
        out.sum().backward()
        t2 = time.perf_counter()
        feats.grad = None
        forward.append(t1 - t0)
        backward.append(t2 - t1)
    return sorted(forward[1:])[repeats // 2] * 1e3, sorted(backward[1:])[repeats // 2] * 1e3


def main(argv=None) -> int:
    hide_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    print(f'{"case":<18}{"op":<14}{"forward ms":>12}{"backward ms":>13}', flush=True)
    for name, shape, num, size, stride in CASES:
        feats = torch.randn(shape, generator=generator).contiguous(
            memory_format=torch.channels_last).requires_grad_()
        rois = _rois(num, shape[0], shape[2], shape[3], stride, generator)
        ops = (('torchvision', lambda f: roi_align(f, rois, size, 1 / stride, 0, True)),
               ('SparseRoIAlign', lambda f: sparse_roi_align(f, rois, size, 1 / stride, 0)))
        for op_name, fn in ops:
            fwd, bwd = _time(fn, feats, args.repeats)
            print(f'{name:<18}{op_name:<14}{fwd:>12.2f}{bwd:>13.2f}', flush=True)
    return 0


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    raise SystemExit(main())
