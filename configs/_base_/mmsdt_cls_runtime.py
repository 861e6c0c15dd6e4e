# mmsdt additions for classification configs (list after mmpretrain's default_runtime.py):
# the shared mmsdt runtime (mmsdt.SafeRunner, mmsdt.ClassDataCheckHook) without SyncBN.
_base_ = './mmsdt_runtime.py'

# The paper trains with per-GPU BN (256 images per GPU); no SyncBN conversion.
sync_bn = None
