"""Synaptic operations and energy of a spiking config: per layer, per module, per image.

    python tools/analysis_tools/spike_energy.py CONFIG [--checkpoint CKPT]
        [--num-images N | --shape H W] --out-dir DIR [--preset 45nm-fp32 | --e-mac PJ --e-ac PJ]
        [--weight-bytes 4 --activation-bytes 4 --spike-bytes 1 --pj-per-byte 24.96]

Runs the config's model (mmdet, mmseg or mmpretrain, through the stock Inferencer's
preprocessing and the model's ``test_step``) on the first N images of its test set (default 1)
or on one generated toy scene of H x W pixels, counting with :class:`mmsdt.snn.SynapticOpCounter`
where spikes meet weights. Layers fed by analog values are billed ``MACs x E_MAC``, spike-fed
layers ``SOPs x E_AC`` (exact SOPs: the integer counts times their fan-out); the memory-traffic
estimate is a separate column. Writes ``energy.json``, ``energy_layers.csv`` and
``energy_layers.png`` into DIR and prints the per-module table. Conventions: docs/energy.md.

Event-camera configs (data preprocessor ``mmsdt.EventDataPreprocessor``) run the config's own
test pipeline and collate function on the first N recordings of the test set, or, with
``--shape``, one sample of random event frames (T from the config, C the stem's input
channels). Their counts hold all T time steps of a sample (SOPs summed over T, per
recording), as the printed line and ``time_steps`` in ``energy.json`` say.
"""
import argparse
import csv
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmengine.utils import track_iter_progress

from mmsdt.apis import (build_inferencer, config_time_steps, dataset_batches, dataset_images,
                        is_event_config, preprocessed_batches, random_event_batch)
from mmsdt.datasets.toy import toy_scene
from mmsdt.snn import ENERGY_PRESETS, MemoryCost, SynapticOpCounter
from mmsdt.utils.quiet import hide_known_warnings
from mmsdt.visualization import draw_layer_bars, group_names


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', help='weights (loaded strictly); default: random init')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--num-images', type=int, default=None,
                        help='first N images of the config\'s test set (N >= 1, default 1)')
    source.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='one generated input of H x W pixels instead of the test set (a toy '
                             'scene; random event frames for an event config)')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--preset', choices=sorted(ENERGY_PRESETS), default='45nm-fp32')
    parser.add_argument('--e-mac', type=float, help='pJ per MAC (overrides the preset)')
    parser.add_argument('--e-ac', type=float, help='pJ per accumulate (overrides the preset)')
    defaults = MemoryCost()
    parser.add_argument('--weight-bytes', type=float, default=defaults.weight_bytes)
    parser.add_argument('--activation-bytes', type=float, default=defaults.activation_bytes)
    parser.add_argument('--spike-bytes', type=float, default=defaults.spike_bytes)
    parser.add_argument('--pj-per-byte', type=float, default=defaults.pj_per_byte)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.num_images is not None and args.num_images < 1:
        # an energy per image of zero images is undefined: refuse rather than count one
        parser.error(f'--num-images must be at least 1, got {args.num_images}')
    if args.shape and min(args.shape) < 32:  # the smallest toy scene
        parser.error(f'--shape must be at least 32 32, got {args.shape[0]} {args.shape[1]}')
    return args


def run(model, batches, count: int) -> None:
    """``test_step`` of every batch (``count`` of them, made one at a time), with a progress
    bar."""
    with torch.no_grad():
        for data in track_iter_progress((batches, count)):
            model.test_step(data)


def event_inputs(args, model):
    """The batches, their number and a description for an event config (the test set's
    recordings through its test pipeline, or ``--shape``'s random event frames)."""
    if args.shape:
        steps = config_time_steps(args.config)
        batch = random_event_batch(model, steps, *args.shape)
        t, c, h, w = batch['inputs'][0].shape
        return [batch], 1, f'one sample of random event frames T = {t}, {c}x{h}x{w}'
    wanted = 1 if args.num_images is None else args.num_images
    batches, names, available = dataset_batches(args.config, wanted)
    if wanted > available:
        print(f'--num-images {wanted} but the test set has {available} recordings: using '
              f'all {available}', flush=True)
    return batches, len(names), f'{len(names)} test recording(s)'


def image_inputs(args, inferencer):
    """The batches, their number and a description for an image config (the test set's
    images or ``--shape``'s toy scene, through the inferencer's preprocessing)."""
    if args.shape:
        images = [toy_scene(*args.shape)]
        what = f'one {args.shape[0]}x{args.shape[1]} toy scene'
    else:
        wanted = 1 if args.num_images is None else args.num_images
        images, available = dataset_images(args.config, wanted)
        if wanted > available:
            print(f'--num-images {wanted} but the test set has {available} images: using all '
                  f'{available}', flush=True)
        what = f'{len(images)} test image(s)'
    return preprocessed_batches(inferencer, images), len(images), what


def write_outputs(report, out_dir: str, title: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    data = report.to_dict()
    paths = dict(json=osp.join(out_dir, 'energy.json'), csv=osp.join(out_dir, 'energy_layers.csv'),
                 png=osp.join(out_dir, 'energy_layers.png'))
    with open(paths['json'], 'w', encoding='utf-8') as f:
        json.dump(data, f, indent=1)
    rows = data['layers']
    with open(paths['csv'], 'w', newline='', encoding='utf-8') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, 'input_shape': 'x'.join(map(str, row['input_shape']))})
    names = [r['name'] for r in rows]
    draw_layer_bars(paths['png'], names, [r['energy_mJ'] * 1e3 for r in rows],
                    group_names(names), 'energy per image (uJ)', title)
    return paths


def print_table(report) -> None:
    totals = report.totals()
    print(f'{"module":<24}{"analog MACs":>14}{"SOPs":>16}{"ANN MACs":>16}{"energy mJ":>12}'
          f'{"memory mJ":>12}')
    for name, t in totals.items():
        print(f'{name:<24}{t["analog_macs"]:>14.4g}{t["sops"]:>16.4g}{t["ann_macs"]:>16.4g}'
              f'{t["energy_mJ"]:>12.5f}{t["memory_mJ"]:>12.5f}')
    spiking = [r for r in report.layer_rows() if r['input'] == 'spikes']
    top = sorted(report.layer_rows(), key=lambda r: -r['energy_mJ'])[:5]
    print(f'{report.describe()} over {report.num_images} image(s); {len(spiking)} spike-fed and '
          f'{len(report.layers) - len(spiking)} analog-fed layers; costliest: ' +
          ', '.join(f'{r["name"]} {r["energy_mJ"] * 1e3:.2f} uJ' for r in top))


def main(argv: Optional[List[str]] = None) -> int:
    hide_known_warnings()
    args = parse_args(argv)
    e = dict(ENERGY_PRESETS[args.preset])
    e['e_mac'] = args.e_mac if args.e_mac is not None else e['e_mac']
    e['e_ac'] = args.e_ac if args.e_ac is not None else e['e_ac']
    inferencer = build_inferencer(args.config, args.device, args.checkpoint)
    if not args.checkpoint:
        print('no --checkpoint: counting a randomly initialised model', flush=True)
    if is_event_config(args.config):
        batches, count, what = event_inputs(args, inferencer.model)
    else:
        batches, count, what = image_inputs(args, inferencer)
    memory = MemoryCost(args.weight_bytes, args.activation_bytes, args.spike_bytes,
                        args.pj_per_byte)
    with SynapticOpCounter(inferencer.model, memory) as counter:
        run(inferencer.model, batches, count)
    report = counter.report(count, **e)
    paths = write_outputs(report, args.out_dir,
                          f'{osp.basename(args.config)}: energy per layer ({what})')
    print_table(report)
    print(f'E_MAC {e["e_mac"]} pJ, E_AC {e["e_ac"]} pJ ({args.preset}); wrote '
          f'{paths["json"]}, {paths["csv"]}, {paths["png"]}', flush=True)
    return 0


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    sys.exit(main())
