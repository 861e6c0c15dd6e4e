"""Verify that spike-driven execution computes what integer mode computes, on real images.

    python tools/analysis_tools/verify_spike_driven.py CONFIG [--checkpoint CKPT]
        [--num-images N] [--rtol 1e-4]

For each of the first N images of the config's test set (the toy val set of the toy configs;
default 2) the model's tensor-mode forward (backbone, neck and heads: ``mode='tensor'``) runs
in integer mode and then in lock-step spike-driven mode (:func:`mmsdt.snn.verify_spike_driven`:
every neuron recomputes its potential from binary spike maps only and is compared with integer
mode). Prints per image the largest relative output and potential differences, the rounding
ties that flipped (expected, float summation order) and the untied flips (must be 0), and the
share of the spike inputs the spike-fed layers consumed (at ``spike_linear`` / ``spike_matmul``)
that arrived as binary maps (must be 100 %; a layer that receives a plain non-binary tensor
where integer mode fed it spikes is named and fails the check). Exits with 1 when a check
fails, 0 otherwise.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import torch

from mmsdt.apis import (TensorModeForward, build_inferencer, dataset_images,
                        preprocessed_batches, switch_off_autocast)
from mmsdt.snn import verify_spike_driven
from mmsdt.utils.quiet import hide_known_warnings


def main(argv: Optional[List[str]] = None) -> int:
    hide_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (loaded strictly); default: random init')
    parser.add_argument('--num-images', type=int, default=2)
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest relative output / potential difference accepted')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')

    inferencer = build_inferencer(args.config, args.device, args.checkpoint)
    images, available = dataset_images(args.config, args.num_images)
    if args.num_images > available:
        print(f'--num-images {args.num_images} but the test set has {available} images: '
              f'using all {available}', flush=True)
    model = inferencer.model.eval()
    for name in switch_off_autocast(model):  # the check is about float32 arithmetic
        print(f'{name}: autocast switched off, both modes run in float32', flush=True)
    worst, failed = 0.0, 0
    totals = dict(spike_inputs=0, binary_inputs=0, maps=0, tie_flips=0, untied_flips=0,
                  elements=0)
    print(f'{"image":<40}{"output dev":>12}{"potential dev":>15}{"tie flips":>11}'
          f'{"untied":>8}{"binary inputs":>15}', flush=True)
    for path, batch in zip(images, preprocessed_batches(inferencer, images)):
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
        report = verify_spike_driven(TensorModeForward(model, data['data_samples']),
                                     data['inputs'])
        ok = report.ok(args.rtol)
        failed += not ok
        worst = max(worst, report.output_deviation, report.max_potential_deviation)
        totals['spike_inputs'] += report.spike_inputs
        totals['binary_inputs'] += report.binary_inputs
        totals['maps'] += report.maps
        totals['tie_flips'] += report.total_tie_flips
        totals['untied_flips'] += report.untied_flips
        totals['elements'] += sum(report.elements.values())
        share = 100.0 * report.binary_inputs / max(report.spike_inputs, 1)
        name = path if len(path) <= 38 else '...' + path[-35:]
        print(f'{name:<40}{report.output_deviation:>12.2e}{report.max_potential_deviation:>15.2e}'
              f'{report.total_tie_flips:>11}{report.untied_flips:>8}{share:>14.1f}%'
              f'{"" if ok else "  FAILED"}', flush=True)
        for layer, n in report.non_binary_inputs.items():
            print(f'  {layer}: {n} non-binary plain input(s) where spikes were expected',
                  flush=True)
    share = 100.0 * totals['binary_inputs'] / max(totals['spike_inputs'], 1)
    verdict = 'PASSED' if failed == 0 else f'FAILED on {failed} image(s)'
    print(f'{verdict}: {len(images)} image(s), largest relative difference {worst:.2e} '
          f'(rtol {args.rtol:g}); {totals["spike_inputs"]} spike inputs consumed '
          f'({totals["maps"]} maps), {share:.1f} % binary; '
          f'{totals["tie_flips"]} rounding-tie flips in {totals["elements"]} neuron outputs, '
          f'{totals["untied_flips"]} untied', flush=True)
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
