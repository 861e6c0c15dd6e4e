"""make run TASK=sma: the SMA toy config learns, and the whole pipeline runs end to end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = 'configs/toy/sma_e-spikeformer-large-narrow_1xb32-600i_toy-cls-64px.py'


def test_label_subset_is_every_tenth_image_per_class(tmp_path):
    from mmsdt.datasets import generate_toy_cls
    from mmsdt.datasets.toy.label_subset import write_label_subset
    generate_toy_cls(str(tmp_path), num_train=20, num_val=1)
    info = write_label_subset(str(tmp_path), 0.1)
    lines = Path(info['path']).read_text().split('\n')[:-1]
    assert info['images'] == len(lines) == 12 and set(info['per_class'].values()) == {2}
    classes = sorted(os.listdir(tmp_path / 'train'))
    for label, name in enumerate(classes):
        files = sorted(os.listdir(tmp_path / 'train' / name))
        assert [ln for ln in lines if ln.startswith(name + '/')] == \
            [f'{name}/{files[0]} {label}', f'{name}/{files[10]} {label}']
    assert write_label_subset(str(tmp_path), 0.1) == info  # deterministic


def test_sma_toy_config_learns_in_a_few_iterations(tmp_path, repo_root):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    import mmsdt.models.selfsup  # noqa: F401
    from mmsdt.datasets import generate_toy_cls
    from mmsdt.registry import MODELS
    generate_toy_cls(str(tmp_path), num_train=4, num_val=1)
    cfg = Config.fromfile(PRETRAIN)
    loader = cfg.train_dataloader
    loader.dataset.data_root = str(tmp_path) + '/'
    loader.update(batch_size=24, num_workers=0, persistent_workers=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        data = next(iter(Runner.build_dataloader(loader, seed=0)))
    model.init_weights()
    model.train()
    batch = model.data_preprocessor(data, training=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim_wrapper.optimizer.lr,
                                  betas=cfg.optim_wrapper.optimizer.betas)

    def loss_with_fixed_masks():
        model.generator = torch.Generator().manual_seed(0)
        return model.loss(**batch)['loss']

    first = loss_with_fixed_masks().item()
    for _ in range(12):
        optimizer.zero_grad()
        loss = loss_with_fixed_masks()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    assert loss_with_fixed_masks().item() < 0.9 * first


def test_run_toy_sma_end_to_end(tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'data'
    proc = subprocess.run(
        [sys.executable, 'tools/run_toy.py', '--task', 'sma', '--work-dir', str(work),
         '--data-root', str(data), '--num-vis', '2', '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = json.loads((work / 'summary.json').read_text())
    assert set(summary['finetune']) == {'scratch', 'sma'}
    for run in summary['finetune'].values():
        assert 0 <= run['top1'] <= 1 and Path(run['checkpoint']).is_file()
    assert Path(summary['reconstruction']).is_file()
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith('toy sma: accuracy/top1 from scratch ') and 'SMA-pretrained' in line
    # the fine-tuning from SMA loaded the converted encoder (layer scales added explicitly)
    encoder = torch.load(work / 'pretrain' / 'sma_encoder_for_finetune.pth', weights_only=True)
    assert len(encoder['meta']['sma_added_keys']) == 2 * 4  # two per block
