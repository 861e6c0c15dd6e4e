"""Train a detector, segmentor or classifier from an OpenMMLab config (mmdet-style flags).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

``--resume``: continue from the newest intact checkpoint of the work dir (the one
``last_checkpoint`` names, else the highest ``iter_N.pth`` / ``epoch_N.pth``; damaged files are
skipped with a warning naming them; none at all: it says so and starts from scratch).
``--resume CKPT``: continue from that file; a damaged one is an error. The run uses
``mmsdt.SafeRunner`` unless the config names another ``runner_type``: ``load_from`` and resumed
weights load strictly (a missing or resized key is an error naming it) and safely (no pickle
that runs code), and checkpoints are saved atomically.

``--amp``: mmengine's AmpOptimWrapper (fp16 + dynamic loss scale) on a GPU; without CUDA the
mmsdt backbone runs under bf16 autocast (``model.backbone.autocast_dtype``; AMX on recent
Intel CPUs), the rest in float32.

The config's ``default_scope`` (mmdet, mmseg or mmpretrain) selects the registries; mmsdt
components come in through ``custom_imports``. On machines without CUDA a distributed launch
uses the gloo backend.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

from mmsdt.utils.launch import (add_common_args, build_runner, finish_distributed,
                                load_tool_config)
from mmsdt.utils.quiet import hide_known_warnings


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model from a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the real total batch size (auto_scale_lr)')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the newest intact one in the work dir')
    add_common_args(parser)
    return parser.parse_args(argv)


def _cpu_amp(cfg: Config) -> None:
    """``--amp`` without CUDA: mmengine's AmpOptimWrapper needs a GPU (and mmcv's CPU ops
    take no bf16), so the spiking backbone runs under bf16 autocast instead."""
    backbone = cfg.model.get('backbone') or {}
    if backbone.get('type') not in ('mmsdt.ESpikeFormer', 'ESpikeFormer'):
        raise ValueError(f'--amp on a machine without CUDA is supported for mmsdt.ESpikeFormer '
                         f'backbones (bf16 autocast); the backbone here is '
                         f'{backbone.get("type")!r}')
    backbone['autocast_dtype'] = 'bfloat16'
    print('--amp without CUDA: the backbone runs under bf16 autocast '
          '(model.backbone.autocast_dtype=bfloat16); heads stay in float32')


def build_cfg(args) -> Config:
    cfg = load_tool_config(args)
    if args.amp and not torch.cuda.is_available():
        _cpu_amp(cfg)
    elif args.amp:
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type == 'AmpOptimWrapper':
            print('AMP is already enabled in the config')
        else:
            if optim_type != 'OptimWrapper':
                raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper, got {optim_type}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        cfg.resume, cfg.load_from = True, args.resume
    return cfg


def main(argv=None) -> None:
    hide_known_warnings()
    args = parse_args(argv)
    cfg = build_cfg(args)
    runner = build_runner(cfg)
    hide_known_warnings(runner.logger)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    # the repository root: projects.* named by the configs' custom_imports
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from mmsdt.utils.private_tempdir import use_private_tempdir
    use_private_tempdir()  # data-loader workers' pymp-* folders go with the run
    main()
