"""The side-by-side benchmark script: loading the paper's model from a user's checkout, case
parsing, one real (tiny) measurement row per implementation, and the float64 parity mode
against a stand-in of the paper's model (the real one needs a checkout of its repository)."""
import json

import pytest
import torch

UPSTREAM_STUB = '''
import torch
import torchinfo  # the real file imports it; the loader provides a stub when it is missing


def Efficient_Spiking_Transformer_t(**kwargs):
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
'''


# A stand-in of the paper's classifier for the parity mode: its module names (the released
# keys), its forward (stages, flatten + mean, integer spike, Linear head), built from mmsdt's
# blocks in the contiguous layout. CORRUPT makes its own load_state_dict change one weight of
# the last block, as a model that does not equal mmsdt's would.
PARITY_STUB = '''
import torch
import torchinfo
from torch import nn

from mmsdt.models import ESpikeFormer
from mmsdt.snn import MultiSpike

CORRUPT = {corrupt}
ORDER = ('downsample1_1', 'ConvBlock1_1', 'downsample1_2', 'ConvBlock1_2', 'downsample2',
         'ConvBlock2_1', 'ConvBlock2_2', 'downsample3', 'block3', 'downsample4', 'block4')


class StandIn(nn.Module):
    def __init__(self, embed_dims, num_classes=1000):
        super().__init__()
        backbone = ESpikeFormer(dict(embed_dims=embed_dims), channels_last=False,
                                compact_spikes=False)
        for name in ORDER:
            setattr(self, name, getattr(backbone, name))
        self.head = nn.Linear(embed_dims[-1], num_classes)
        self.spike = MultiSpike(norm=1)

    def load_state_dict(self, state_dict, strict=True):
        if CORRUPT:
            state_dict = dict(state_dict)
            key = 'block4.1.mlp.fc2_conv.weight'
            state_dict[key] = state_dict[key] + 1e-3
        return super().load_state_dict(state_dict, strict)

    def forward(self, x):
        for name in ORDER:
            module = getattr(self, name)
            for m in (module if isinstance(module, nn.ModuleList) else [module]):
                x = m(x)
        return self.head(self.spike(x.flatten(2).mean(2)))


def Efficient_Spiking_Transformer_t(**kwargs):
    return StandIn((24, 48, 96, 128), **kwargs)
'''


def _checkout(root, text):
    path = root / 'SDT_V3' / 'Classification' / 'Model_Base'
    path.mkdir(parents=True)
    (path / 'models.py').write_text(text)
    return root


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


@pytest.mark.parametrize('corrupt', [False, True])
def test_parity_mode(bench, tmp_path, capsys, corrupt):
    """Equal models pass (every level within 1e-12 of the upstream scale, the neurons firing);
    one weight of the last block changed fails, in stage 4 and the logits only."""
    checkout = _checkout(tmp_path / 'checkout', PARITY_STUB.format(corrupt=corrupt))
    rc = bench.main(['--upstream-dir', str(checkout), '--arch', '2.7m', '--parity', '--size',
                     '32', '--threads', '1'])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(('stage', 'logits'))}
    assert list(rows) == ['stage0', 'stage1', 'stage2', 'stage3', 'stage4', 'logits']
    if not corrupt:
        assert rc == 0 and 'PASSED' in out and 'DIFFERS' not in out, out
    else:
        assert rc == 1 and 'FAILED' in out, out
        assert [name for name, line in rows.items() if 'DIFFERS' in line] == ['stage4', 'logits']


def test_parity_report_rule(bench, tmp_path):
    """The library call: per-level differences and scales, and the pass rule applied to them."""
    from mmsdt.models.backbones.e_spikeformer_parity import compare_with_upstream
    checkout = _checkout(tmp_path / 'checkout', PARITY_STUB.format(corrupt=False))
    report = compare_with_upstream(bench.load_upstream(str(checkout), '2.7m'), size=32,
                                   batch=1)
    assert report.arch == dict(embed_dims=(24, 48, 96, 128)) and report.passed
    assert 0.05 < report.firing_rate < 0.95
    for level in report.levels:
        assert level.scale > 0.1 and level.max_abs_diff <= 1e-12 * level.scale
    report.levels[-1].max_abs_diff = 2e-12 * report.levels[-1].scale
    assert not report.passed and 'DIFFERS' in report.lines()[-3]


def test_parity_needs_the_upstream_checkout(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(['--parity'])
    assert '--upstream-dir' in capsys.readouterr().err
