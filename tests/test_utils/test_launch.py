"""mmsdt.utils.launch: build_runner (mmsdt.SafeRunner by default) and last_saved_checkpoint on a
tiny mmengine runner."""
import uuid
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import DataLoader

from mmsdt.utils.launch import build_runner, last_saved_checkpoint

REPO = Path(__file__).resolve().parents[2]


class _Tiny(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x, mode='loss'):
        return dict(loss=self.fc(x).pow(2).mean())


def _runner(work_dir, name, checkpoint_hook):
    return Runner(
        model=_Tiny(), work_dir=str(work_dir), experiment_name=name,
        train_dataloader=DataLoader([dict(x=torch.ones(2))] * 8, batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        default_hooks=dict(checkpoint=checkpoint_hook, logger=None))


def test_last_saved_checkpoint_is_the_final_save(tmp_path):
    hook = dict(type='CheckpointHook', interval=2, by_epoch=False)
    runner = _runner(tmp_path, 'launch_ckpt', hook)
    with pytest.raises(RuntimeError, match='not saved'):
        last_saved_checkpoint(runner)
    runner.train()
    # interval 2 saves iter_2, save_last then saves the last iteration (3)
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth', 'iter_3.pth']
    assert last_saved_checkpoint(runner) == str(tmp_path / 'iter_3.pth')


def test_no_checkpoint_hook(tmp_path):
    runner = _runner(tmp_path, 'launch_no_ckpt', None)
    with pytest.raises(RuntimeError, match='no CheckpointHook'):
        last_saved_checkpoint(runner)


def _cfg(work_dir, **extra):
    from mmengine.registry import MODELS
    MODELS.register_module(name='MmsdtTestTinyLaunchModel', module=_Tiny, force=True)
    return Config(dict(model=dict(type='MmsdtTestTinyLaunchModel'), work_dir=str(work_dir),
                       experiment_name=f'launch_{uuid.uuid4().hex}', **extra))


def test_build_runner_defaults_to_the_safe_runner(tmp_path):
    from mmengine.registry import RUNNERS

    from mmsdt.engine import SafeRunner
    assert type(build_runner(_cfg(tmp_path / 'a'))) is SafeRunner

    class Plain(Runner):
        """A runner of the user's own."""

    name = f'Plain{uuid.uuid4().hex}'
    RUNNERS.register_module(name=name, module=Plain)
    assert type(build_runner(_cfg(tmp_path / 'b', runner_type=name))) is Plain  # kept


def _shipped_configs():
    found = sorted((REPO / 'configs').rglob('*.py')) + sorted(
        (REPO / 'projects').rglob('configs/**/*.py'))
    return [p for p in found if '_base_' not in p.parts]


@pytest.mark.parametrize('path', _shipped_configs(), ids=lambda p: p.name)
def test_every_shipped_config_names_the_safe_runner(path, repo_root):
    assert Config.fromfile(str(path)).get('runner_type') == 'mmsdt.SafeRunner'
