"""mmsdt.SpikeLinearClsHead in mmpretrain's ImageClassifier, and converted released files."""
from pathlib import Path

import pytest
import torch
from mmengine.runner import load_checkpoint
from torch.nn import functional as F

from mmsdt.models import ESpikeFormer, SpikeLinearClsHead
from mmsdt.models.backbones.e_spikeformer_converter import (released_state_dict,
                                                             save_released_format)
from mmsdt.snn import SpikeLinear, SpikeTrain, spike_driven
from mmsdt.utils import CheckpointError
from mmsdt.utils.checkpoint import load_checkpoint_file

REPO = Path(__file__).resolve().parents[3]
ARCHS = {'2.7m': 128, '5.1m': 192, '10m': 240, '19m': 360}  # arch -> stage-4 channels C3


@pytest.fixture(scope='module')
def released(tmp_path_factory, load_tool, randomise_bn):
    """Per arch: (released-format file, its conversion by the converter tool)."""
    convert = load_tool('tools/model_converters/sdtv3_to_mmsdt.py').convert
    folder = tmp_path_factory.mktemp('cls_ckpt')
    files = {}
    for i, arch in enumerate(ARCHS):
        torch.manual_seed(i)
        src = ESpikeFormer(arch)
        randomise_bn(src, i)  # random BN statistics / affine so that the neurons fire
        head = SpikeLinearClsHead(num_classes=1000, in_channels=ARCHS[arch])
        torch.nn.init.normal_(head.fc.weight, std=0.02)
        torch.nn.init.normal_(head.fc.bias)  # the released bias is not zero
        files[arch] = (folder / f'{arch}_released.pth', folder / f'{arch}_converted.pth')
        save_released_format(released_state_dict(src, head), files[arch][0])
        convert(str(files[arch][0]), str(files[arch][1]))
    return files


def _classifier(arch, **kwargs):
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(type='ImageClassifier',
             backbone=dict(type='mmsdt.ESpikeFormer', arch=arch, out_indices=(4, )),
             neck=dict(type='GlobalAveragePooling'),
             head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=1000,
                       in_channels=ARCHS[arch]), **kwargs))


@pytest.fixture
def flush_denormal():
    """float64 CPU convs slow down ~100x on denormal numbers (a 5.1m forward: 45 s vs 0.3 s);
    flushing them changes both compared models alike. The flag is per thread, so one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


@pytest.mark.parametrize('arch', list(ARCHS))
def test_converted_release_gives_the_released_logits(arch, released, mmpretrain_scope,
                                                     flush_denormal):
    """The converted file in the classifier gives the released model's logits: its backbone
    loaded from the released file, global average, integer spike, then the released
    ``head.weight`` / ``head.bias`` (the upstream classifier, written out in torch)."""
    released_file, converted = released[arch]
    ref = ESpikeFormer(arch, out_indices=(4, ),
                       init_cfg=dict(type='Pretrained', checkpoint=str(released_file)))
    ref.init_weights()
    original = load_checkpoint_file(str(released_file))['model']
    clf = _classifier(arch, init_cfg=dict(type='Pretrained', checkpoint=str(converted)))
    clf.init_weights()
    ref, clf = ref.double().eval(), clf.double().eval()
    neuron = ('max_value', 'norm', 'rounding', 'include_boundary')
    assert type(clf.head.fc) is SpikeLinear
    assert [getattr(clf.head.fc.spike, a) for a in neuron] == [4, 1.0, 'half_even', True]
    x = torch.randn(2, 3, 40, 32, generator=torch.Generator().manual_seed(7),
                    dtype=torch.float64)
    with torch.no_grad():
        spikes = torch.round(F.adaptive_avg_pool2d(ref(x)[0], 1).flatten(1).clamp(0, 4))
        expected = F.linear(spikes, original['head.weight'].double(),
                            original['head.bias'].double())
        pooled = clf.extract_feat(x)
        logits = clf(x, mode='tensor')
    # the GAP neck hands the head a tuple of (B, C) tensors
    assert isinstance(pooled, tuple) and pooled[-1].shape == (2, ARCHS[arch])
    counts = clf.head.fc.spike.spike_count(pooled[-1])
    assert len(counts.unique()) >= 3  # the head's neuron really fires, with several counts
    assert logits.dtype == torch.float64 and logits.shape == (2, 1000)
    assert (logits - expected).abs().max() <= 1e-6 * expected.abs().max()


@pytest.mark.parametrize('arch', ['2.7m', '19m'])
def test_converter_keys_are_exactly_the_classifier_keys(arch, released, mmpretrain_scope):
    released_file, converted = released[arch]
    written = torch.load(converted, map_location='cpu')['state_dict']
    clf = _classifier(arch)
    assert sorted(k for k in written if k.startswith('head.')) == ['head.fc.bias',
                                                                    'head.fc.weight']
    assert set(written) == set(clf.state_dict())
    load_checkpoint(clf, str(converted), strict=True)  # no missing, unexpected or resized key
    original = load_checkpoint_file(str(released_file))['model']  # allow-listed loader
    assert torch.equal(clf.head.fc.weight, original['head.weight'])
    assert torch.equal(clf.head.fc.bias, original['head.bias'])


def test_checkpoint_of_another_arch_names_the_first_mismatched_key(released,
                                                                   mmpretrain_scope):
    """A 5.1m file into a 2.7m classifier: both strict loaders name the first key (the stem
    conv) with both shapes."""
    converted = str(released['5.1m'][1])
    with pytest.raises(RuntimeError) as err:
        load_checkpoint(_classifier('2.7m'), converted, strict=True)
    first = next(line for line in str(err.value).splitlines() if 'size mismatch' in line)
    assert first == ('size mismatch for backbone.downsample1_1.encode_conv.weight: copying a '
                     'param with shape torch.Size([16, 3, 7, 7]) from checkpoint, the shape in '
                     'current model is torch.Size([12, 3, 7, 7]).')
    clf = _classifier('2.7m')
    clf.backbone.init_cfg = dict(type='Pretrained', checkpoint=converted, prefix='backbone.')
    with pytest.raises(CheckpointError,
                       match=r'shape mismatch for \d+ key\(s\); first: downsample1_1\.encode_conv\.'
                       r'weight: checkpoint \(16, 3, 7, 7\) vs model \(12, 3, 7, 7\)'):
        clf.init_weights()


def test_head_is_the_stock_head_with_a_spiking_fc(mmpretrain_scope):
    from mmpretrain.models.heads import LinearClsHead
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    head = MODELS.build(dict(type='mmsdt.SpikeLinearClsHead', num_classes=5, in_channels=64))
    assert isinstance(head, LinearClsHead) and type(head.fc) is SpikeLinear
    assert sorted(head.state_dict()) == ['fc.bias', 'fc.weight']
    assert (head.fc.spike.max_value, head.fc.spike.norm) == (4, 1.0)
    head.fc.bias.data.fill_(1.0)
    head.init_weights()  # the stock init_cfg (Normal, std 0.01, on Linear layers) reaches fc
    assert torch.all(head.fc.bias == 0) and 0.008 < head.fc.weight.std() < 0.012
    feats = (torch.randn(3, 64) * 9, torch.rand(3, 64) * 6 - 1)
    expected = F.linear(torch.round(feats[-1].clamp(0, 4)), head.fc.weight, head.fc.bias)
    assert torch.equal(head(feats), expected)  # the last tensor of the tuple, spiked
    other = SpikeLinearClsHead(num_classes=5, in_channels=64, spike_cfg=dict(max_value=2))
    assert (other.fc.spike.max_value, other.fc.spike.norm) == (2, 1.0)


def test_spike_driven_head_equals_integer_mode(mmpretrain_scope):
    from mmpretrain.registry import MODELS
    torch.manual_seed(0)
    head = MODELS.build(dict(type='mmsdt.SpikeLinearClsHead', num_classes=10, in_channels=32))
    head = head.double().eval()
    feats = (torch.rand(4, 32, dtype=torch.float64) * 6 - 1, )
    seen = []
    head.fc.spike.register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        ref = head(feats)
        with spike_driven(head):
            out = head(feats)
    assert isinstance(seen[1], SpikeTrain) and seen[1].num_maps == 4
    assert torch.equal(seen[1].counts(), seen[0])  # norm 1: integer mode passes the counts
    assert len(seen[0].unique()) == 5  # every count 0..4 occurs
    assert (out - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_loss_step_trains_through_the_spiking_head(mmpretrain_scope):
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    clf = _classifier('2.7m')
    clf.init_weights()
    samples = [DataSample().set_gt_label(label) for label in (3, 999)]
    losses = clf(torch.randn(2, 3, 32, 32), samples, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert clf.head.fc.weight.grad.abs().sum() > 0
    assert clf.backbone.block4[1].mlp.fc2_bn.weight.grad.abs().sum() > 0


def test_the_head_builds_whatever_default_scope_is_current():
    """A Runner built without ``default_scope`` leaves mmengine's scope current, where
    mmpretrain's CrossEntropyLoss is not registered; the head still builds its stock loss."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmengine'):
        head = SpikeLinearClsHead(num_classes=3, in_channels=4)
        assert DefaultScope.get_current_instance().scope_name == 'mmengine'
    assert type(head.loss_module).__module__.startswith('mmpretrain.')
