# Runtime of the toy detection config: mmdet's default_runtime.py for CPU runs (gloo for
# multi-process runs, iteration-based logging and checkpoints) plus the mmsdt modules.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets'],
                      allow_failed_imports=False)
# head / data class checks before the first step (see mmsdt_runtime.py)
custom_hooks = [dict(type='mmsdt.ClassDataCheckHook')]

# strict, safe loading, resume from the newest intact checkpoint, atomic saves (mmsdt_runtime.py)
runner_type = 'mmsdt.SafeRunner'

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
