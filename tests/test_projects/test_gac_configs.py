"""Every projects/gac config parses, builds under mmpretrain and runs one forward on a small
input; the recipe values that matter are the official ones."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted((REPO / 'projects' / 'gac' / 'configs').glob('*.py'))


def test_the_expected_configs_exist():
    names = {p.name for p in CONFIGS}
    for ds in (10, 100):
        for t in (2, 4, 6):
            assert f'gac-msresnet18-t{t}_1xb64-250e_cifar{ds}.py' in names
            assert f'msresnet18-t{t}_1xb64-250e_cifar{ds}.py' in names
    for depth in (18, 34):
        for t in (4, 6):
            assert f'gac-msresnet{depth}-t{t}_8xb32-250e_in1k.py' in names
        assert f'msresnet{depth}-t4_8xb32-250e_in1k.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_builds_and_runs(path, mmpretrain_scope):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(path))
    assert 'projects.gac.gac' in cfg.custom_imports.imports
    import_modules_from_strings(cfg.custom_imports.imports)
    init_default_scope('mmpretrain')
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg).eval()
    name = path.name
    T = int(name.split('-t')[1].split('_')[0])
    assert model.backbone.time_steps == T
    assert (model.backbone.encoder.gate_mode == 'learned') == name.startswith('gac-')
    in1k = name.endswith('in1k.py')
    classes = 1000 if in1k else int(name.split('cifar')[1].split('.')[0])
    assert model.head.fc.out_features == classes
    assert cfg.data_preprocessor.num_classes == classes
    size = 64 if in1k else 32
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size), mode='tensor')
    assert out.shape == (2, classes)
    if in1k:
        assert cfg.optim_wrapper.optimizer.weight_decay == 1e-5
        assert model.backbone.encoder.conv.kernel_size == (7, 7)
        assert model.data_preprocessor.batch_augments is not None  # CutMix on every batch
    else:
        opt = cfg.optim_wrapper.optimizer
        assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ('SGD', 0.1, 0.9, 5e-5)
        # docs/reference_numbers.md: recipe-gac-cifar
        assert cfg.train_cfg.max_epochs == 250 and cfg.train_dataloader.batch_size == 64
        assert cfg.model.train_cfg.probs == 0.5
        assert cfg.train_dataloader.dataset.download is False


def test_cifar_parameter_count_through_the_config(mmpretrain_scope):
    from mmpretrain.registry import MODELS
    path = REPO / 'projects/gac/configs/gac-msresnet18-t6_1xb64-250e_cifar10.py'
    cfg = Config.fromfile(str(path))
    import_modules_from_strings(cfg.custom_imports.imports)
    model = MODELS.build(cfg.model)
    # docs/reference_numbers.md: gac-cifar18
    assert sum(p.numel() for p in model.parameters()) == 12_633_198
