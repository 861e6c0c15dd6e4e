# Runtime of the toy segmentation config: mmseg's default_runtime.py for CPU runs (gloo for
# multi-process runs, no cudnn benchmark), logging and checkpoints by iteration, plus the mmsdt
# modules ('mmsdt.datasets' for the label check and the copy-paste step).
_base_ = 'mmseg::_base_/default_runtime.py'

custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets'],
                      allow_failed_imports=False)
# head / data class checks before the first step (see mmsdt_runtime.py)
custom_hooks = [dict(type='mmsdt.ClassDataCheckHook')]

# strict, safe loading, resume from the newest intact checkpoint, atomic saves (mmsdt_runtime.py)
runner_type = 'mmsdt.SafeRunner'

# (mmseg keeps the default hooks in its schedules; mmengine adds the ones not named here)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=650, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
