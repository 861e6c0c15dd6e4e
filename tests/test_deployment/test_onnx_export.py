"""ONNX export of folded integer-mode models and its lock-step check with onnxruntime; the
export tool.

The exactness test uses dyadic weights and inputs (few bits): every product and sum is exact
in float32 whatever the summation order, so onnxruntime and float64 PyTorch must agree bit for
bit, ties included (both round half to even). The other tests use trained toy weights (the
derived float32 bound of mmsdt.deployment.onnx_check), a silent model and a corrupted file.
"""
import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from mmsdt.datasets.toy import TOY_CLS_CLASSES, render_toy_cls_image
from mmsdt.deployment import check_onnx_file, count_neuron_calls, export_onnx
from mmsdt.models import ESpikeFormer
from mmsdt.snn import MultiSpike, fold_bn

CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
SEG = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
TRAIN_STEPS = 30


@pytest.fixture(scope='module')
def trained_cls(tmp_path_factory):
    """The toy classifier trained for TRAIN_STEPS steps of 16 generated toy images (its
    config's model, data preprocessor and loss; AdamW 2e-3), saved as a checkpoint."""
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    import mmsdt.models  # noqa: F401
    cfg = Config.fromfile(CLS)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=2e-3))
        rng = np.random.default_rng(0)
        model.train()
        losses = []
        for _ in range(TRAIN_STEPS):
            labels = rng.integers(0, len(TOY_CLS_CLASSES), 16)
            images = [torch.from_numpy(render_toy_cls_image(rng, TOY_CLS_CLASSES[k])
                                       .transpose(2, 0, 1).copy()) for k in labels]
            data = dict(inputs=images,
                        data_samples=[DataSample().set_gt_label(int(k)) for k in labels])
            losses.append(float(model.train_step(data, optim)['loss']))
    assert np.mean(losses[-5:]) < np.mean(losses[:5])  # it learned something
    path = tmp_path_factory.mktemp('trained') / 'cls.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=TOY_CLS_CLASSES))), path)
    return path


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

    report = check_onnx_file(path, model, x)
    assert report.ok, report.failures()
    assert [o.shape for o in report.outputs] == summary.output_shapes
    assert all(o.max_ref > 0 and o.max_abs_error == 0 for o in report.outputs)
    # every count equal (no tie flipped); a potential differs from float64 only where the
    # graph multiplies by a constant that is not dyadic (the attention scale), within its bound
    assert all(n.tie_flips == 0 and n.untied_flips == 0 for n in report.neurons)
    assert report.neurons[0].max_potential_error == 0
    assert len(report.neurons) == len(calls)


def _backbone(ckpt=None):
    """The toy classifier's folded backbone (trained weights with ``ckpt``)."""
    from mmsdt.apis import build_inferencer
    module = build_inferencer(CLS, 'cpu', None if ckpt is None else str(ckpt)).model.backbone
    fold_bn(module.eval(), torch.randn(1, 3, 64, 64))
    return module


def test_trained_weights_pass_with_firing_neurons(tmp_path, trained_cls, mmpretrain_scope):
    module = _backbone(trained_cls)
    path = str(tmp_path / 'trained.onnx')
    export_onnx(module, torch.randn(1, 3, 64, 64), path)
    report = check_onnx_file(path, module, torch.randn(1, 3, 64, 64))
    assert report.ok, report.failures()
    assert report.firing_rate > 0.01 and all(n.spikes > 0 for n in report.neurons[:4])
    assert all(not o.constant and o.max_ref > 0 for o in report.outputs)
    assert all(o.max_abs_error <= o.max_bound for o in report.outputs)
    # the bound is derived, not a share of mismatches: gamma_d from the graph
    assert report.gamma == pytest.approx(report.depth * 2.0**-24, rel=1e-3)
    assert 1152 < report.depth < 20000  # at least the largest 3x3 conv fan-in (128 x 9)


def test_corrupted_file_fails(tmp_path, trained_cls, mmpretrain_scope):
    module = _backbone(trained_cls)
    path = str(tmp_path / 'corrupt.onnx')
    export_onnx(module, torch.randn(1, 3, 64, 64), path)
    proto = onnx.load(path)
    conv = next(n for n in proto.graph.node if n.op_type == 'Conv')
    init = next(t for t in proto.graph.initializer if t.name == conv.input[1])
    weight = numpy_helper.to_array(init).copy()
    weight.flat[0] += 0.25  # one weight of the stem conv
    init.CopyFrom(numpy_helper.from_array(weight, init.name))
    onnx.save(proto, path)
    report = check_onnx_file(path, module, torch.randn(1, 3, 64, 64))
    assert not report.ok
    assert report.neurons[0].outside_bound > 0
    assert report.failures()[0].startswith('neuron call 0 ')


def test_silent_model_fails(tmp_path):
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m').eval()
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.zero_()
    x = torch.randn(1, 3, 32, 32)
    path = str(tmp_path / 'silent.onnx')
    export_onnx(model, x, path)
    report = check_onnx_file(path, model, x)
    assert not report.ok and report.firing_rate == 0
    text = '\n'.join(report.failures())
    assert 'the model is silent' in text and 'is constant (0 everywhere)' in text


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
    report = check_onnx_file(path, module, x)
    assert report.ok, report.failures()
    assert [n.max_value for n in report.neurons] == [4, 2]
    assert report.outputs[1].max_ref == 2  # the second neuron keeps its own bound D=2


# random weights: the classifier and segmentor outputs vary; the detector's FPN levels are all
# zero (its random neurons stay silent), which fails instead of passing a comparison of zeros
@pytest.mark.parametrize('scope,config,part,shape,outputs,passes', [
    ('mmpretrain', CLS, 'model', (64, 64), [(1, 6)], True),
    ('mmseg', SEG, 'model', (64, 96), [(1, 4, 16, 24)], True),
    ('mmdet', DET, 'features', (64, 64), [(1, 64, 16, 16), (1, 64, 8, 8), (1, 64, 4, 4),
                                          (1, 64, 2, 2), (1, 64, 1, 1)], False),
])
def test_export_tool(scope, config, part, shape, outputs, passes, tmp_path, repo_root, load_tool,
                     capsys, request):
    request.getfixturevalue(f'{scope}_scope')  # whatever scope an earlier test left
    tool = load_tool('tools/deployment/export_onnx.py')
    out = tmp_path / 'model.onnx'
    rc = tool.main([config, '--part', part, '--shape', *map(str, shape), '--out', str(out)])
    text = capsys.readouterr().out
    assert 'randomly initialised' in text
    if passes:
        assert rc == 0 and 'PASSED' in text, text
    else:
        assert rc == 1 and 'PASSED' not in text, text
        assert 'FAILED: output out0 is constant (0 everywhere): the model is silent' in text
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


def test_export_tool_on_trained_weights(tmp_path, repo_root, load_tool, capsys, trained_cls,
                                        mmpretrain_scope):
    tool = load_tool('tools/deployment/export_onnx.py')
    out = tmp_path / 'cls.onnx'
    rc = tool.main([CLS, '--checkpoint', str(trained_cls), '--part', 'model', '--shape', '64',
                    '64', '--out', str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'PASSED' in text and 'randomly initialised' not in text
    rate = float(text.split('firing rate ')[1].split()[0])
    assert rate > 0.01  # trained neurons fire on the check input
