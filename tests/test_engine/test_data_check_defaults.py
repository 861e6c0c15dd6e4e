"""mmsdt.ClassDataCheckHook is on by default in every config of every family (detection,
segmentation, classification, GAC), through the runtime bases."""
import glob
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(
    glob.glob(str(REPO / 'configs/toy/*.py')) +
    glob.glob(str(REPO / 'configs/e-spikeformer/*/*.py')) +
    [p for p in glob.glob(str(REPO / 'projects/*/configs/**/*.py'), recursive=True)
     if '/_base_/' not in p])


def test_every_family_is_listed():
    families = {Path(p).relative_to(REPO).parts[:3] for p in CONFIGS}
    assert {('configs', 'e-spikeformer', f) for f in ('det', 'seg', 'cls')} <= families
    assert any('projects/gac' in p for p in CONFIGS)
    assert len([p for p in CONFIGS if '/configs/toy/' in p]) >= 3


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(Path(p).relative_to(REPO)))
def test_the_data_check_hook_is_on(path):
    cfg = Config.fromfile(path)
    hooks = cfg.get('custom_hooks') or []
    if cfg.model.type == 'mmsdt.SpikeMAE':
        # label-free pre-training (SMA): no classes, no val / test loop, nothing to check
        assert not hooks and 'val_dataloader' not in cfg and 'test_dataloader' not in cfg, path
        return
    checks = [h for h in hooks if h.get('type') == 'mmsdt.ClassDataCheckHook']
    assert len(checks) == 1, f'custom_hooks = {hooks}'
    assert all(checks[0].get(k, True) for k in (
        'check_num_classes', 'check_class_names', 'check_checkpoint', 'check_input_size'))
