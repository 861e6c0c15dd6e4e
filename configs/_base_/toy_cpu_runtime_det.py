# Runtime of the toy detection config: mmdet's default_runtime.py and the shared mmsdt runtime
# (mmsdt.SafeRunner, mmsdt.ClassDataCheckHook), with what a CPU run needs written here:
# 'mmsdt.datasets' for the checked toy COCO set, no SyncBN (it cannot run in a multi-process
# CPU run), gloo for multi-process runs, iteration-based logging and checkpoints.
_base_ = ['mmdet::_base_/default_runtime.py', './mmsdt_runtime.py']

custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets'])
sync_bn = None

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
