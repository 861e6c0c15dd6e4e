"""Launch helpers for tools/train.py and tools/test.py (distributed runs on CPU)."""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

from mmsdt.registry import RUNNERS


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """The flags tools/train.py and tools/test.py share (mmdet's names)."""
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_tool_config(args: argparse.Namespace) -> Config:
    """Read ``args.config`` and apply ``--launcher``, ``--cfg-options`` and ``--work-dir``
    (default ``./work_dirs/<config name>``)."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file not found: {args.config}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def prepare_cpu_distributed(cfg) -> None:
    """Start a gloo process group for a distributed launch on a machine without CUDA.

    mmengine's own pytorch launcher calls ``torch.cuda.set_device`` first, which fails
    without a GPU; a process group that already exists is used by mmengine as it is. The
    model wrapper is then built with ``device_ids=None`` (CPU DDP).
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'launcher {cfg.launcher!r} without CUDA: use --launcher pytorch '
                           '(torchrun / tools/dist_train.sh) for CPU runs')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None  # mmengine would default to [LOCAL_RANK], a GPU index
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg: Config):
    """Prepare a CPU distributed launch if needed, then build the config's runner.

    A config without ``runner_type`` gets ``mmsdt.SafeRunner`` (strict, safe checkpoint
    loading, resume from the newest intact checkpoint, atomic saves); an explicit
    ``runner_type`` is used as it is. mmsdt's runner registry (a child of mmengine's) imports
    ``mmsdt.engine``, where the runner lives, when it is first asked for a runner.
    """
    prepare_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        cfg.runner_type = 'mmsdt.SafeRunner'
    return RUNNERS.build(cfg)


def last_saved_checkpoint(runner) -> str:
    """The path of the checkpoint that the runner's ``CheckpointHook`` saved last.

    mmengine's hook records it (``last_ckpt``) each time it saves, also for the final
    iteration when ``save_last`` is on; the path is returned as the hook wrote it.

    Raises:
        RuntimeError: the runner has no ``CheckpointHook``, or it has not saved yet.
    """
    from mmengine.hooks import CheckpointHook
    hooks = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
    if not hooks:
        raise RuntimeError('the runner has no CheckpointHook, so no checkpoint was saved')
    saved = [h.last_ckpt for h in hooks if getattr(h, 'last_ckpt', None)]
    if not saved:
        raise RuntimeError('the CheckpointHook has not saved a checkpoint yet')
    return saved[-1]


def finish_distributed() -> None:
    """Destroy the process group before exit (a live gloo group aborts the interpreter's
    shutdown with "terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
