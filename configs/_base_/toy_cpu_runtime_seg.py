# Runtime of the toy segmentation config: mmseg's default_runtime.py and the shared mmsdt
# runtime (mmsdt.SafeRunner, mmsdt.ClassDataCheckHook), with what a CPU run needs written here:
# 'mmsdt.datasets' for the label check and the copy-paste step, no SyncBN (it cannot run in a
# multi-process CPU run), gloo for multi-process runs, logging and checkpoints by iteration.
_base_ = ['mmseg::_base_/default_runtime.py', './mmsdt_runtime.py']

custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets'])
sync_bn = None

# (mmseg keeps the default hooks in its schedules; mmengine adds the ones not named here)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=650, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
