"""The side-by-side benchmark script: loading the paper's model from a user's checkout, case
parsing, and one real (tiny) measurement row per implementation."""
import json

import pytest
import torch

UPSTREAM_STUB = '''
import torch
import torchinfo  # the real file imports it; the loader provides a stub when it is missing


def Efficient_Spiking_Transformer_t(**kwargs):
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
'''


@pytest.fixture
def bench(load_tool):
    return load_tool('tools/analysis_tools/benchmark_vs_upstream.py')


@pytest.fixture
def upstream_dir(tmp_path):
    path = tmp_path / 'checkout' / 'SDT_V3' / 'Classification' / 'Model_Base'
    path.mkdir(parents=True)
    (path / 'models.py').write_text(UPSTREAM_STUB)
    return tmp_path / 'checkout'


def test_load_upstream_from_a_checkout(bench, upstream_dir):
    model = bench.load_upstream(str(upstream_dir), '2.7m')
    assert model(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 8, 8)


def test_wrong_checkout_is_named(bench, tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        bench.load_upstream(str(tmp_path), '19m')


def test_bad_case_is_a_usage_error(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(['--cases', 'train:512'])
    assert 'MODE:SIZE:BATCH' in capsys.readouterr().err


def test_rows_for_each_implementation(bench, upstream_dir, tmp_path, repo_root, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', str(repo_root))
    out = tmp_path / 'bench.json'
    rc = bench.main(['--upstream-dir', str(upstream_dir), '--arch', '2.7m', '--cases',
                     'train:32:2', 'eval:32:1', '--impls', 'upstream', 'mmsdt', 'mmsdt-bf16-cp',
                     'mmsdt-folded', '--repeats', '1', '--threads', '1', '--out', str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())['results']
    # inference forms are measured on eval cases only
    assert [(r['impl'], r['mode']) for r in rows] == [
        ('upstream', 'train'), ('mmsdt', 'train'), ('mmsdt-bf16-cp', 'train'),
        ('upstream', 'eval'), ('mmsdt', 'eval'), ('mmsdt-bf16-cp', 'eval'),
        ('mmsdt-folded', 'eval')]
    assert all('failed' not in r and r['seconds'] >= 0 and r['threads'] == 1 for r in rows), rows
    assert all(r['seconds'] > 0 for r in rows if r['impl'] != 'upstream')  # real models
    assert rows[0]['params'] == 3 * 4 * 9 + 4 and rows[1]['params'] > 2e6
