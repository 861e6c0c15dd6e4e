"""tools/demo/backbone_demo.py on the smallest E-SpikeFormer and a small toy scene."""
import json
import subprocess
import sys
from pathlib import Path

from mmsdt.models.backbones.e_spikeformer import STAGE_LAYOUT
from mmsdt.utils import load_checkpoint_file

REPO = Path(__file__).resolve().parents[2]


def test_backbone_demo_writes_and_loads_a_released_file(tmp_path):
    work = tmp_path / 'demo'
    cmd = [sys.executable, 'tools/demo/backbone_demo.py', '--arch', '2.7m', '--size', '64',
           '--work-dir', str(work)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert 'backbone demo OK: 2.7m' in proc.stdout
    ckpt = work / 'e_spikeformer_2.7m_released_format.pth'
    assert sorted(load_checkpoint_file(ckpt)) == ['args', 'epoch', 'model', 'optimizer', 'scaler']
    assert (work / 'firing_rates.png').stat().st_size > 0

    stats = json.loads((work / 'spike_stats.json').read_text())
    assert stats['out_strides'] == [2, 4, 8, 16, 16]
    assert [row['stage'] for row in stats['stages']] == list(range(len(STAGE_LAYOUT)))
    # neurons keep their backbone names, and each is counted in the stage that owns it
    owner = {name: k for k, names in enumerate(STAGE_LAYOUT) for name in names}
    per_stage = [0] * len(STAGE_LAYOUT)
    for name in stats['neurons']:
        per_stage[owner[name.split('.')[0]]] += 1
    assert per_stage == [row['neurons'] for row in stats['stages']]
    assert all(0 < row['firing_rate'] < 1 for row in stats['stages'])

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and f'reusing {ckpt}' in again.stdout
