# mmsdt's classification runtime plus the project package (custom_imports is replaced, not
# merged, by a child config: the full list is here).
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    '../../../../configs/_base_/mmsdt_cls_runtime.py',
]
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine', 'projects.gac.gac'],
                      allow_failed_imports=False)
