"""Verify that spike-driven execution computes what integer mode computes, on real samples.

    python tools/analysis_tools/verify_spike_driven.py CONFIG [--checkpoint CKPT]
        [--num-images N | --shape H W] [--rtol 1e-4]

For each of the first N samples of the config's test set (the toy val set of the toy configs;
default 2), or one generated input of H x W pixels (``--shape``), the model's tensor-mode
forward (backbone, neck and heads: ``mode='tensor'``) runs in integer mode and then in
lock-step spike-driven mode (:func:`mmsdt.snn.verify_spike_driven`: every neuron recomputes
its potential from binary spike maps only and is compared with integer mode). Prints per
sample the largest relative output and potential differences, the rounding
ties that flipped (expected, float summation order) and the untied flips (must be 0), and the
share of the spike inputs the spike-fed layers consumed (at ``spike_linear`` / ``spike_matmul``)
that arrived as binary maps (must be 100 %; a layer that receives a plain non-binary tensor
where integer mode fed it spikes is named and fails the check). Exits with 1 when a check
fails, 0 otherwise.

Event-camera configs (data preprocessor ``mmsdt.EventDataPreprocessor``) take recordings
through the config's own test pipeline and collate function (``--shape``: random event frames,
T from the config, C the stem's input channels); the T frames of a sample go through the
model in one call, with either neuron mode (stateless: each frame on its own; stateful: the
membrane carries over the T steps and is compared step by step), and T and the neuron mode
are printed.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import torch

from mmsdt.apis import (TensorModeForward, build_inferencer, config_time_steps,
                        dataset_batches, dataset_images, is_event_config,
                        preprocessed_batches, random_event_batch, switch_off_autocast)
from mmsdt.datasets.toy import toy_scene
from mmsdt.snn import verify_spike_driven
from mmsdt.utils.quiet import hide_known_warnings


def main(argv: Optional[List[str]] = None) -> int:
    hide_known_warnings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (loaded strictly); default: random init')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--num-images', type=int, default=None,
                        help='first N samples of the config\'s test set (default 2)')
    source.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='one generated input of H x W pixels instead of the test set (a '
                             'toy scene; random event frames for an event config)')
    parser.add_argument('--rtol', type=float, default=1e-4,
                        help='largest relative output / potential difference accepted')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.num_images is not None and args.num_images < 1:
        parser.error('--num-images must be at least 1')
    if args.shape and min(args.shape) < 32:  # the smallest toy scene
        parser.error(f'--shape must be at least 32 32, got {args.shape[0]} {args.shape[1]}')

    inferencer = build_inferencer(args.config, args.device, args.checkpoint)
    model = inferencer.model.eval()
    events = is_event_config(args.config)
    unit = 'recording' if events else 'image'
    if args.shape:
        height, width = args.shape
        if events:
            images = [f'random event frames {height}x{width}']
            batches = [random_event_batch(model, config_time_steps(args.config), height,
                                          width)]
        else:
            images = [f'toy scene {height}x{width}']
            batches = preprocessed_batches(inferencer, [toy_scene(height, width)])
    else:
        wanted = 2 if args.num_images is None else args.num_images
        if events:
            batches, images, available = dataset_batches(args.config, wanted)
        else:
            images, available = dataset_images(args.config, wanted)
            batches = preprocessed_batches(inferencer, images)
        if wanted > available:
            print(f'--num-images {wanted} but the test set has {available} {unit}s: '
                  f'using all {available}', flush=True)
    for name in switch_off_autocast(model):  # the check is about float32 arithmetic
        print(f'{name}: autocast switched off, both modes run in float32', flush=True)
    worst, failed = 0.0, 0
    totals = dict(spike_inputs=0, binary_inputs=0, maps=0, tie_flips=0, untied_flips=0,
                  elements=0)
    print(f'{unit:<40}{"output dev":>12}{"potential dev":>15}{"tie flips":>11}'
          f'{"untied":>8}{"binary inputs":>15}', flush=True)
    time_axis = ''
    for path, batch in zip(images, batches):
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
        if events and not time_axis:  # frames (B, T, C, H, W): T and the neuron mode
            steps = data['inputs'].shape[1]
            mode = getattr(getattr(model, 'backbone', None), 'neuron_mode', 'stateless')
            time_axis = f' of T = {steps} time steps ({mode} neurons)'
            print(f'T = {steps} time steps, {mode} neurons, inputs (B, T, C, H, W) = '
                  f'{tuple(data["inputs"].shape)}', flush=True)
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
    verdict = 'PASSED' if failed == 0 else f'FAILED on {failed} {unit}(s)'
    print(f'{verdict}: {len(images)} {unit}(s){time_axis}, largest relative difference {worst:.2e} '
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
