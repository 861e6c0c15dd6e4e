"""ONNX export of folded integer-mode models, checked with onnxruntime; the export tool.

The exactness test uses dyadic weights and inputs (few bits): every product and sum is exact
in float32 whatever the summation order, so onnxruntime and PyTorch must agree bit for bit,
ties included (both round half to even).
"""
import onnx
import pytest
import torch

from mmsdt.deployment import compare_with_onnxruntime, count_neuron_calls, export_onnx
from mmsdt.models import ESpikeFormer
from mmsdt.snn import MultiSpike, fold_bn

CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
SEG = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'


def _dyadic_(model: torch.nn.Module, bits: int = 6, seed: int = 0) -> None:
    """Every floating parameter and buffer rounded to a multiple of 2**-bits (in place)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(torch.round(t * 2**bits) / 2**bits)


def _neuron_calls(module, x):
    calls = []
    handles = [m.register_forward_hook(lambda m, i, o: calls.append(o))
               for m in module.modules() if isinstance(m, MultiSpike)]
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return calls


def test_folded_backbone_matches_onnxruntime_exactly(tmp_path, randomise_bn):
    torch.manual_seed(0)
    model = randomise_bn(ESpikeFormer('2.7m')).eval()
    fold_bn(model, torch.randn(1, 3, 64, 64))
    _dyadic_(model)
    x = torch.round(torch.randn(2, 3, 64, 96) * 8) / 8
    calls = _neuron_calls(model, x)
    fired = sum(int((c > 0).sum()) for c in calls)
    assert fired > 0.05 * sum(c.numel() for c in calls)  # the neurons do fire
    assert any(bool(((c > 1) & (c == c.round())).any()) for c in calls)  # counts above 1

    path = str(tmp_path / 'backbone.onnx')
    summary = export_onnx(model, x, path, metadata=dict(part='backbone'))
    ops = summary.op_counts
    assert ops['Clip'] == ops['Round'] == len(calls)  # every neuron visible as clip + round
    assert count_neuron_calls(model, x) == len(calls)  # what the export tool compares with
    assert not {'BatchNormalization', 'Div'} & set(ops)  # BN and 1/norm folded
    assert summary.output_shapes == [(2, 24, 16, 24), (2, 48, 8, 12), (2, 96, 4, 6),
                                     (2, 128, 4, 6)]
    proto = onnx.load(path)
    assert {p.key: p.value for p in proto.metadata_props}['part'] == 'backbone'

    diffs = compare_with_onnxruntime(path, model, x)
    assert [d.shape for d in diffs] == summary.output_shapes
    assert all(d.max_ref > 0 for d in diffs)
    assert all(d.max_abs == 0 and d.mismatched == 0 for d in diffs), diffs


def test_compare_reports_a_wrong_file(tmp_path):
    """A file exported from other weights is reported as mismatching, not as passing."""
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m').eval()
    x = torch.randn(1, 3, 32, 32)
    path = str(tmp_path / 'm.onnx')
    export_onnx(model, x, path)
    stem = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    with torch.no_grad():
        stem.weight.mul_(-1)
    diffs = compare_with_onnxruntime(path, model, x)
    assert any(d.mismatched > 0 for d in diffs)


def test_two_neurons_on_one_tensor_export_valid_graph(tmp_path):
    """Two neurons clamping the same tensor (stage output read by the next stage and the
    neck): onnxscript's Clip rewrite leaves the second pair of bounds unregistered; the
    exporter must still write a valid graph."""

    class TwoReaders(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 1)
            self.a, self.b = MultiSpike(4), MultiSpike(2, norm=1)

        def forward(self, x):
            y = self.conv(x)
            return self.a(y), self.b(y)

    module = TwoReaders().eval()
    x = torch.randn(1, 3, 8, 8) * 3
    path = str(tmp_path / 'two.onnx')
    summary = export_onnx(module, x, path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    assert summary.op_counts['Clip'] == 2
    diffs = compare_with_onnxruntime(path, module, x)
    assert all(d.mismatched == 0 for d in diffs)
    assert diffs[1].max_ref == 2  # the second neuron keeps its own bound D=2


@pytest.mark.parametrize('scope,config,part,shape,outputs', [
    ('mmpretrain', CLS, 'model', (64, 64), [(1, 6)]),
    ('mmseg', SEG, 'model', (64, 96), [(1, 4, 16, 24)]),
    ('mmdet', DET, 'features', (64, 64), [(1, 64, 16, 16), (1, 64, 8, 8), (1, 64, 4, 4),
                                          (1, 64, 2, 2), (1, 64, 1, 1)]),
])
def test_export_tool(scope, config, part, shape, outputs, tmp_path, repo_root, load_tool, capsys,
                     request):
    request.getfixturevalue(f'{scope}_scope')  # whatever scope an earlier test left
    tool = load_tool('tools/deployment/export_onnx.py')
    out = tmp_path / 'model.onnx'
    rc = tool.main([config, '--part', part, '--shape', *map(str, shape), '--out', str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'PASSED' in text and 'randomly initialised' in text
    proto = onnx.load(str(out))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta['part'] == part and meta['folded'] == 'True'
    assert '123.675' in meta['mean']  # the preprocessor's mean, for whoever feeds the file
    got = [tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in proto.graph.output]
    assert got == outputs


def test_export_tool_refuses_whole_detector(tmp_path, repo_root, load_tool, mmdet_scope):
    tool = load_tool('tools/deployment/export_onnx.py')
    with pytest.raises(SystemExit, match='not exported for detectors.*--part features'):
        tool.main([DET, '--part', 'model', '--shape', '64', '64', '--out',
                   str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()


def test_export_tool_checkpoint_mismatch_is_the_loaders_error(tmp_path, repo_root, load_tool,
                                                              mmpretrain_scope):
    tool = load_tool('tools/deployment/export_onnx.py')
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'backbone.nonsense': torch.zeros(1)}}, bad)
    with pytest.raises(Exception, match='backbone'):
        tool.main([CLS, '--checkpoint', str(bad), '--out', str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()
