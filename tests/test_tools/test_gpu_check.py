"""tools/misc/gpu_check.sh: the prepared GPU check runs end to end in its CPU smoke mode."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


def _run(out, *args):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    return subprocess.run(['bash', 'tools/misc/gpu_check.sh', str(out), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_smoke_mode_reports_every_section(tmp_path):
    proc = _run(tmp_path, '--device', 'cpu', '--quick')
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    report = json.loads((tmp_path / 'gpu_check.json').read_text())
    sections = report['sections']
    assert list(sections) == ['env', 'cls_step', 'kernel_path', 'det_step', 'spike_driven']
    assert not [name for name, body in sections.items() if 'error' in body]
    for mode in ('fp32', 'amp'):
        assert sections['cls_step'][mode]['losses_finite'] and \
            sections['cls_step'][mode]['ms_per_step'] > 0
    assert sections['cls_step']['amp']['precision'] == 'bfloat16 autocast (CPU)'
    assert sections['det_step']['losses_finite'] and sections['det_step']['arch'] == '2.7m'
    assert sections['kernel_path']['path']
    spike = sections['spike_driven']
    assert spike['lockstep_ok_1e_12'] and spike['free_running_ok_1e_12']
    assert '## spike_driven' in (tmp_path / 'gpu_check.md').read_text()
    assert 'paramwise_options' not in proc.stdout + proc.stderr  # progress and results only


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message without a GPU')
def test_no_gpu_is_named(tmp_path):
    proc = _run(tmp_path, '--sections', 'env')
    assert proc.returncode != 0
    assert 'torch sees no CUDA device' in proc.stderr
