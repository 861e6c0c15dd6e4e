"""The training-step breakdown script: one real (tiny) run prints every part, and bad module
names are reported with the model's children."""
import re

import pytest

from mmsdt.datasets import generate_toy_cls

CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'


@pytest.fixture
def tool(load_tool):
    return load_tool('tools/analysis_tools/benchmark_train_step.py')


def _options(root):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.batch_size=2']


def test_prints_every_part_of_the_step(tool, tmp_path, repo_root, capsys):
    generate_toy_cls(str(tmp_path), num_train=12, num_val=2)
    assert tool.main([CLS, '--warmup', '1', '--steps', '2', *_options(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = dict(re.findall(r'^(\S.*?|  \S.*?)\s+([0-9.]+)\s+\d+%$', out, re.M))
    for part in ('data loading (one batch)', 'forward (loss)', '  backbone (forward)',
                 '  head (forward)', '  rest of the forward (targets, sampling, losses)',
                 'backward', 'optimizer step', 'step (without data loading)'):
        assert part in rows, out
    assert float(rows['step (without data loading)']) >= float(rows['backward']) > 0
    forward_parts = ['  neck (forward)', '  backbone (forward)', '  head (forward)',
                     '  rest of the forward (targets, sampling, losses)']
    assert sum(float(rows[p]) for p in forward_parts if p in rows) == pytest.approx(
        float(rows['forward (loss)']), abs=0.25)


def test_unknown_module_is_named(tool, tmp_path, repo_root):
    generate_toy_cls(str(tmp_path), num_train=4, num_val=2)
    with pytest.raises(SystemExit, match=r'no module named roi_head\.mask_head.*backbone'):
        tool.main([CLS, '--modules', 'roi_head.mask_head', *_options(tmp_path)])


def test_ops_prints_time_by_kind_and_the_dense_floor(tool, tmp_path, capsys):
    generate_toy_cls(str(tmp_path), num_train=12, num_val=2)
    assert tool.main([CLS, '--warmup', '1', '--steps', '2', '--ops', *_options(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r'^(\S.*?)\s+([0-9.]+)\s+(\d+)%\s+\d+$', out, re.M)
    kinds = {kind: ms for kind, ms, _ in rows}
    shares = [int(share) for _, _, share in rows]
    assert float(kinds['convolution forward']) > 0 and float(kinds['convolution backward']) > 0
    assert 'Python, autograd, dispatch (no tensor op)' in kinds
    assert sum(shares) == pytest.approx(100, abs=len(shares))  # rounded shares of one total
    conv, mm = map(float, re.search(r'convolutions ([0-9.]+) GFLOP, matrix products ([0-9.]+)',
                                    out).groups())
    assert conv > 0 and mm >= 0
    assert re.search(r'float32 \d+ GFLOP/s', out)
    assert re.search(r'need at least [0-9.]+ ms per step', out)


def test_random_event_frames_with_a_time_axis(tool, capsys):
    """--time-steps: no data set; batches of (B, T, C, H, W) frames; peak memory printed."""
    assert tool.main([CLS, '--warmup', '0', '--steps', '1', '--time-steps', '2', '--frames',
                      '2', '32', '32', '--batch-size', '1', '--cfg-options',
                      'model.backbone.in_channels=2']) == 0
    out = capsys.readouterr().out
    assert 'random event frames: batch 1 x T 2 x 2x32x32' in out
    assert float(re.search(r'^backward\s+([0-9.]+)', out, re.M).group(1)) > 0
    after, before = map(float, re.search(r'peak resident memory: (\d+) MiB \((\d+) MiB before',
                                         out).groups())
    assert after >= before > 0


def test_time_steps_needs_frames(tool):
    with pytest.raises(SystemExit):
        tool.main([CLS, '--time-steps', '4'])
