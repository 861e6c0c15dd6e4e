"""``type='mmsdt.ESpikeFormer'`` builds from mmdet, mmseg and mmpretrain configs."""
import subprocess
import sys
import textwrap

import pytest

SNIPPET = textwrap.dedent('''
    import sys
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    from {pkg}.registry import MODELS
    assert 'mmsdt.models' not in sys.modules
    cfg = Config(dict(custom_imports=dict(imports=['mmsdt.models'], allow_failed_imports=False),
                      backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(3, 4))))
    import_modules_from_strings(**cfg.custom_imports)
    model = MODELS.build(cfg.backbone)
    print(type(model).__module__, model.out_strides)
''')


@pytest.mark.parametrize('pkg', ['mmdet', 'mmseg', 'mmpretrain'])
def test_builds_from_each_openmmlab_registry(pkg):
    proc = subprocess.run([sys.executable, '-c', SNIPPET.format(pkg=pkg)], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ['mmsdt.models.backbones.e_spikeformer', '(16,', '16)']


def test_mmpretrain_classifier_with_spiking_backbone(mmpretrain_scope):
    import torch
    from mmpretrain.registry import MODELS

    import mmsdt.models  # noqa: F401
    model = MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(4, )),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='LinearClsHead', num_classes=5, in_channels=128)))
    scores = model(torch.rand(2, 3, 64, 64), mode='tensor')
    assert scores.shape == (2, 5)


def test_unknown_type_in_scope_fails_loudly(mmdet_scope):
    from mmdet.registry import MODELS

    import mmsdt.models  # noqa: F401
    with pytest.raises(KeyError, match='ESpikeFormerX'):
        MODELS.build(dict(type='mmsdt.ESpikeFormerX'))
