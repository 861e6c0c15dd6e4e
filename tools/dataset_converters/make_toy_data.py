"""Write the deterministic toy data sets used as the default for detection, segmentation and
classification runs and an event-camera set.

    python tools/dataset_converters/make_toy_data.py {coco,ade,cls,dvs,event-det} --out DIR
                        [--num-train N] [--num-val N] [--seed S] [--force]

``coco`` writes an instance segmentation set in COCO format (3 classes: circle, square,
triangle), ``ade`` a semantic segmentation set in the ADE20K layout (label 0 unlabelled,
1 background, 2-4 the shapes), ``cls`` a classification set in the ImageNet folder layout
(6 shape / texture classes; the counts are per class, default 500 / 40), ``dvs`` an
event-camera set in the N-MNIST layout (8 motion classes through the DVS emulator, ATIS
``.bin`` files of a 64x64 sensor; per class, default 150 / 25), ``event-det`` an event-camera
detection set in the Gen1 layout (cars and pedestrians through the DVS emulator, ``_td.dat``
events of a 128x96 sensor and ``_bbox.npy`` boxes; recordings, default 24 / 8). Nothing is
downloaded. When
DIR already holds a set made with the same arguments it is reused unless ``--force`` is given.
"""
import argparse
import time
from typing import List, Optional

from mmsdt.datasets import generate_toy_ade, generate_toy_cls, generate_toy_coco, generate_toy_dvs
from mmsdt.datasets.toy import generate_toy_event_det

GENERATORS = dict(coco=generate_toy_coco, ade=generate_toy_ade, cls=generate_toy_cls,
                  dvs=generate_toy_dvs, **{'event-det': generate_toy_event_det})


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('kind', choices=sorted(GENERATORS), help='data set format')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, help='training images (per class for cls and '
                        'dvs; default 200, cls 500, dvs 150, event-det 24 recordings)')
    parser.add_argument('--num-val', type=int, help='validation images (per class for cls and '
                        'dvs; default 50, cls 40, dvs 25, event-det 8 recordings)')
    parser.add_argument('--seed', type=int, default=0, help='non-negative seed')
    parser.add_argument('--force', action='store_true', help='regenerate even if up to date')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)

    def progress(split: str, done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            unit = 'recordings' if args.kind in ('dvs', 'event-det') else 'images'
            print(f'[{args.kind}] {split}: {done}/{total} {unit}', flush=True)

    counts = {k: v for k, v in (('num_train', args.num_train), ('num_val', args.num_val))
              if v is not None}  # the generator's own defaults otherwise
    start = time.perf_counter()
    summary = GENERATORS[args.kind](args.out, seed=args.seed, force=args.force,
                                    progress=progress, **counts)
    seconds = time.perf_counter() - start

    parts = []
    for split, stats in summary['splits'].items():
        if args.kind == 'coco':
            per_class = ', '.join(f'{k}={v}' for k, v in stats['per_class'].items())
            parts.append(f'{split}: {stats["images"]} images, {stats["instances"]} instances '
                         f'({per_class})')
        elif args.kind == 'dvs':
            parts.append(f'{split} ({stats["folder"]}): {stats["recordings"]} recordings, '
                         f'{stats["events"]} events')
        elif args.kind == 'event-det':
            parts.append(f'{split}: {stats["recordings"]} recordings, {stats["labels"]} label '
                         f'times, {stats["boxes"]} boxes ({stats["occluded_boxes"]} partly '
                         f'hidden), {stats["events"]} events')
        elif args.kind == 'ade':
            per_class = ', '.join(f'{k}={v}' for k, v in stats['images_per_class'].items())
            parts.append(f'{split}: {stats["images"]} images (images containing: {per_class})')
        else:
            per_class = ', '.join(f'{k}={v}' for k, v in stats['images_per_class'].items())
            parts.append(f'{split}: {stats["images"]} images ({per_class})')
    state = 'generated' if summary['generated'] else 'up to date, reused'
    print(f'toy {args.kind} {state} in {seconds:.1f}s at {summary["root"]}: ' + '; '.join(parts),
          flush=True)
    return summary


if __name__ == '__main__':
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    main()
