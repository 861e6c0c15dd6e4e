"""Write the deterministic toy data sets used as the default for detection/segmentation runs.

    python tools/dataset_converters/make_toy_data.py {coco,ade} --out DIR [--num-train N]
                        [--num-val N] [--seed S] [--force]

``coco`` writes an instance segmentation set in COCO format (3 classes: circle, square,
triangle), ``ade`` a semantic segmentation set in the ADE20K layout (label 0 unlabelled,
1 background, 2-4 the shapes). Nothing is downloaded. When DIR already holds a set made with
the same arguments it is reused unless ``--force`` is given.
"""
import argparse
import time
from typing import List, Optional

from mmsdt.datasets import generate_toy_ade, generate_toy_coco


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=('coco', 'ade'), help='data set format')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=200, help='training images')
    parser.add_argument('--num-val', type=int, default=50, help='validation images')
    parser.add_argument('--seed', type=int, default=0, help='non-negative seed')
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)

    def progress(split: str, done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f'[{args.kind}] {split}: {done}/{total} images', flush=True)

    generate = generate_toy_coco if args.kind == 'coco' else generate_toy_ade
    start = time.perf_counter()
    summary = generate(args.out, num_train=args.num_train, num_val=args.num_val,
                       seed=args.seed, force=args.force, progress=progress)
    seconds = time.perf_counter() - start

    parts = []
    for split, stats in summary['splits'].items():
        if args.kind == 'coco':
            per_class = ', '.join(f'{k}={v}' for k, v in stats['per_class'].items())
            parts.append(f'{split}: {stats["images"]} images, {stats["instances"]} instances '
                         f'({per_class})')
        else:
            per_class = ', '.join(f'{k}={v}' for k, v in stats['images_per_class'].items())
            parts.append(f'{split}: {stats["images"]} images (images containing: {per_class})')
    state = 'generated' if summary['generated'] else 'up to date, reused'
    print(f'toy {args.kind} {state} in {seconds:.1f}s at {summary["root"]}: ' + '; '.join(parts),
          flush=True)
    return summary


if __name__ == '__main__':
    main()
