# mmsdt additions to a stock default_runtime.py (list both in `_base_`; no key is shared).
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'], allow_failed_imports=False)
# mmsdt.SafeRunner: strict, safe loading of load_from / --resume, resume from the newest intact
# checkpoint, atomic checkpoint saves (mmengine's CheckpointHook -> mmsdt.AtomicCheckpointHook)
runner_type = 'mmsdt.SafeRunner'
# Before the first step: heads' num_classes against the data's classes, train / val class
# names, a loaded checkpoint's class names, train / val input size of classifiers
# (mmsdt.ClassDataCheckHook; its arguments switch single checks off).
custom_hooks = [dict(type='mmsdt.ClassDataCheckHook')]
# Multi-GPU training: mmengine's Runner converts every BN layer (backbone, neck, heads) to
# SyncBN; a single-process run keeps plain BN.
sync_bn = 'torch'
