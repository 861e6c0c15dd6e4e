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
