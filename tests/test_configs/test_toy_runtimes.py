"""The toy CPU runtimes inherit the shared mmsdt runtime and write only what a CPU run changes."""
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / 'configs' / '_base_'
# toy runtime -> (shared piece, keys it overrides)
TOY_RUNTIMES = {
    'toy_cpu_runtime_det.py': ('mmsdt_runtime.py', {'custom_imports', 'sync_bn'}),
    'toy_cpu_runtime_seg.py': ('mmsdt_runtime.py', {'custom_imports', 'sync_bn'}),
    'toy_cpu_runtime_cls.py': ('mmsdt_cls_runtime.py', set()),
}


@pytest.mark.parametrize('name', sorted(TOY_RUNTIMES))
def test_toy_runtime_inherits_the_shared_piece(name):
    shared_name, overridden = TOY_RUNTIMES[name]
    toy_file = BASE / name
    assert f"'./{shared_name}'" in toy_file.read_text(), f'{name} does not list {shared_name}'
    toy, shared = Config.fromfile(str(toy_file)), Config.fromfile(str(BASE / shared_name))
    for key, value in shared.to_dict().items():
        if key not in overridden:
            assert toy[key] == value, f'{name}: {key} differs from {shared_name}'
    # what a multi-process CPU run needs
    assert toy.get('sync_bn') is None
    assert toy.env_cfg.dist_cfg.backend == 'gloo'
    assert toy.runner_type == 'mmsdt.SafeRunner'
    assert dict(type='mmsdt.ClassDataCheckHook') in toy.custom_hooks
    assert toy.custom_imports.allow_failed_imports is False


@pytest.mark.parametrize('name', ['toy_cpu_runtime_det.py', 'toy_cpu_runtime_seg.py'])
def test_det_and_seg_toy_runtimes_import_the_checked_datasets(name):
    cfg = Config.fromfile(str(BASE / name))
    assert cfg.custom_imports.imports == ['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets']
