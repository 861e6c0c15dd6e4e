# mmsdt additions for classification configs (list after mmpretrain's default_runtime.py):
# the shared mmsdt runtime plus mmsdt.ClassDataCheckHook, which stops a run before its first
# step when a class folder is empty or the head's num_classes differs from the classes found.
_base_ = './mmsdt_runtime.py'

custom_hooks = [dict(type='mmsdt.SafeCheckpointHook'), dict(type='mmsdt.ClassDataCheckHook')]
# The paper trains with per-GPU BN (256 images per GPU); no SyncBN conversion.
sync_bn = None
