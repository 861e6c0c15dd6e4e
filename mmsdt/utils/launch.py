"""Launch helpers for tools/train.py and tools/test.py (distributed runs on CPU)."""
import os

import torch
import torch.distributed as dist


def prepare_cpu_distributed(cfg) -> None:
    """Start a gloo process group for a distributed launch on a machine without CUDA.

    mmengine's own pytorch launcher calls ``torch.cuda.set_device`` first, which fails
    without a GPU; a process group that already exists is used by mmengine as it is. The
    model wrapper is then built without ``device_ids`` (CPU DDP).
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available() or dist.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'launcher {cfg.launcher!r} without CUDA: use --launcher pytorch '
                           '(torchrun / tools/dist_train.sh) for CPU runs')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
