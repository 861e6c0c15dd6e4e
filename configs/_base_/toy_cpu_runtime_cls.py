# Runtime of the toy classification config: mmpretrain's default_runtime.py and the shared
# mmsdt classification runtime (mmsdt.SafeRunner, mmsdt.ClassDataCheckHook, no SyncBN), with
# what a CPU run needs written here: gloo for multi-process runs, iteration-based logging and
# checkpoints.
_base_ = ['mmpretrain::_base_/default_runtime.py', './mmsdt_cls_runtime.py']

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
