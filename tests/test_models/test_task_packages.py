"""``import mmsdt.models`` without mmdet / mmseg / mmpretrain: the backbone and spiking layers
build, the detection / segmentation / classification components fail with an error naming the
missing package."""
import subprocess
import sys
import textwrap

import pytest

import mmsdt.models
from mmsdt.models.task_packages import is_installed
from mmsdt.registry import MODELS

HIDE = textwrap.dedent('''
    import sys

    class HideTaskPackages:
        """Behaves as if the packages in HIDDEN were not installed."""

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in HIDDEN:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
            return None

    sys.meta_path.insert(0, HideTaskPackages())
''')

WITHOUT_TASK_PACKAGES = "HIDDEN = ('mmdet', 'mmseg')" + HIDE + textwrap.dedent('''
    import pytest
    import torch
    from mmcv.cnn import build_conv_layer
    from mmpretrain.registry import MODELS as CLS_MODELS

    import mmsdt.models
    from mmsdt.registry import MODELS

    assert not [m for m in sys.modules if m.split('.')[0] in ('mmdet', 'mmseg')]
    backbone = CLS_MODELS.build(dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(4, )))
    assert backbone(torch.rand(1, 3, 32, 32))[0].shape == (1, 128, 2, 2)
    conv = build_conv_layer(dict(type='mmsdt.SpikeConv2d'), 3, 4, 1)
    assert type(conv).__name__ == 'SpikeConv2d'
    head = CLS_MODELS.build(dict(type='mmsdt.SpikeLinearClsHead', num_classes=3, in_channels=8))
    assert type(head.fc).__name__ == 'SpikeLinear'  # a classification-only install works
    for name, package, extra in (('StrideCheckedMaskRCNN', 'mmdet', 'det'),
                                 ('SpikeFCNMaskHead', 'mmdet', 'det'),
                                 ('SpikeFPNHead', 'mmseg', 'seg'),
                                 ('StrideCheckedEncoderDecoder', 'mmseg', 'seg')):
        for registry in (MODELS, CLS_MODELS):
            with pytest.raises(ImportError) as err:
                registry.build(dict(type=f'mmsdt.{name}', in_channels=3))
            message = str(err.value)
            assert f'mmsdt.{name} needs {package} (' in message, message
            assert f"pip install 'mmsdt[{extra}]'" in message, message
    assert 'StrideCheckedMaskRCNN' not in mmsdt.models.__all__
    print('ok')
''')


WITHOUT_MMPRETRAIN = "HIDDEN = ('mmpretrain', )" + HIDE + textwrap.dedent('''
    import pytest
    import torch
    from mmdet.registry import MODELS as DET_MODELS

    import mmsdt.models
    from mmsdt.registry import MODELS

    assert 'mmpretrain' not in sys.modules
    backbone = MODELS.build(dict(type='ESpikeFormer', arch='2.7m', out_indices=(4, )))
    assert backbone(torch.rand(1, 3, 32, 32))[0].shape == (1, 128, 2, 2)
    for registry in (MODELS, DET_MODELS):
        with pytest.raises(ImportError) as err:
            registry.build(dict(type='mmsdt.SpikeLinearClsHead', num_classes=3, in_channels=8))
        message = str(err.value)
        assert 'mmsdt.SpikeLinearClsHead needs mmpretrain (mmpretrain==1.2.0, ' in message
        assert "pip install 'mmsdt[cls]'" in message, message
    assert 'SpikeLinearClsHead' not in mmsdt.models.__all__
    assert 'StrideCheckedMaskRCNN' in mmsdt.models.__all__
    print('ok')
''')


@pytest.mark.parametrize('script', [WITHOUT_TASK_PACKAGES, WITHOUT_MMPRETRAIN],
                         ids=['without-mmdet-mmseg', 'without-mmpretrain'])
def test_models_import_and_fail_clearly_without_task_packages(script):
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ['ok']


@pytest.mark.parametrize('package', [mmsdt.models.DET_PACKAGE, mmsdt.models.SEG_PACKAGE,
                                     mmsdt.models.CLS_PACKAGE])
def test_placeholder_names_are_exactly_what_the_task_modules_register(package):
    """With the package installed, the names its modules register are the placeholder list."""
    folders = {'mmdet': ('dense_heads', 'roi_heads', 'detectors',
                         'data_preprocessors.event_det_data_preprocessor'),
               'mmseg': ('decode_heads', 'segmentors'),
               'mmpretrain': ('heads', 'data_preprocessors.event_data_preprocessor',
                              'classifiers', 'selfsup')}[package.import_name]
    registered = {name for name, obj in MODELS.module_dict.items()
                  if obj.__module__.split('.')[2] in folders
                  or '.'.join(obj.__module__.split('.')[2:4]) in folders}
    assert registered == set(package.components)
    assert set(package.components) <= set(mmsdt.models.__all__)


def test_is_installed_tells_a_missing_package_from_a_broken_one(tmp_path, monkeypatch):
    (tmp_path / 'mmsdt_broken_pkg.py').write_text('import mmsdt_missing_dependency\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert is_installed('mmdet') and is_installed('mmseg') and is_installed('mmpretrain')
    assert not is_installed('mmsdt_no_such_package')
    with pytest.raises(ModuleNotFoundError, match='mmsdt_missing_dependency'):
        is_installed('mmsdt_broken_pkg')
