"""The main job (tools/misc/run_toy.py) end to end, shortened to a few iterations."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('task, metric', [('det', 'bbox_mAP'), ('seg', 'mIoU')])
def test_run_toy_pipeline(task, metric, tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'data'
    proc = subprocess.run(
        [sys.executable, 'tools/misc/run_toy.py', '--task', task, '--work-dir', str(work),
         '--data-root', str(data), '--num-vis', '2', '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=2'],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = json.loads((work / 'summary.json').read_text())
    assert 0.0 <= summary[metric] <= 1.0 and summary['iterations'] == 2
    assert f'toy {task}: ' in proc.stdout
    drawn = list(Path(summary['predictions']).glob('*'))
    assert len(drawn) == 2


def test_data_root_reaches_wrapped_training_sets():
    """--data-root must reach the data set inside a wrapper (the seg toy config trains on a
    MultiImageMixDataset), not only the top-level dataset dict."""
    import importlib.util

    from mmengine.config import Config
    spec = importlib.util.spec_from_file_location('run_toy', REPO / 'tools/misc/run_toy.py')
    run_toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_toy)
    for task in ('det', 'seg'):
        cfg = Config.fromfile(str(REPO / run_toy.TASKS[task]['config']))
        run_toy.point_config_at(cfg, task, '/elsewhere/toy')
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = run_toy.wrapped_dataset(cfg[loader].dataset)
            assert dataset.data_root == '/elsewhere/toy/', (task, loader)
            assert 'data_root' not in cfg[loader].dataset or \
                cfg[loader].dataset is dataset, 'a wrapper got a data_root it does not take'
    assert cfg.train_dataloader.dataset.type == 'MultiImageMixDataset'
