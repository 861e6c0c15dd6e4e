"""Stock mmseg FPN with spiking convs, spiking Semantic-FPN head, stride-checked segmentor,
ADE20K configs, label checks."""
import glob
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.models.decode_heads import FPNHead
from mmseg.models.necks import FPN
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

import mmsdt.models  # noqa: F401
from mmsdt.models import SpikeFPNHead
from mmsdt.snn import MultiSpike, SpikeConv2d, verify_spike_driven

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmseg_scope')
REPO = Path(__file__).resolve().parents[3]
ADE_CONFIGS = sorted(glob.glob(str(REPO / 'configs/e-spikeformer/seg/*.py')))
SPIKE_CONV = dict(type='mmsdt.SpikeConv2d')


def _head(**kw):
    return SpikeFPNHead(in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3],
                        feature_strides=[2, 4, 8, 16], channels=8, num_classes=5, **kw)


def _levels():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 8, 64 // s, 64 // s, generator=g) * 2 for s in (2, 4, 8, 16)]


def test_head_spikes_every_conv_and_logits_at_the_finest_stride():
    head = _head().eval()
    n_convs = sum(len([m for m in h if hasattr(m, 'conv')]) for h in head.scale_heads)
    assert n_convs == 1 + 1 + 2 + 3  # max(1, log2(s_i / s_0)) per level
    assert sum(isinstance(m, MultiSpike) for m in head.modules()) == n_convs + 1
    out = head(_levels())
    assert out.shape == (2, 5, 32, 32)
    assert verify_spike_driven(head, _levels()).ok()


def test_spike_cfg_sets_the_spike_scale():
    """Default integer counts 0..4 (norm=1, as every neck / head layer); spike_cfg=dict(norm=4)
    gives the paper's 0..1 spikes."""
    x = [lvl * 3 for lvl in _levels()]
    for norm in (4, 1):
        torch.manual_seed(0)
        head = (_head() if norm == 1 else _head(spike_cfg=dict(norm=4))).eval()
        seen = []
        head.conv_seg.spike.register_forward_hook(lambda m, i, o: seen.append(o))
        head(x)
        counts = seen[0] * norm
        assert torch.equal(counts, torch.round(counts))
        assert counts.min() == 0 and 2 <= counts.max() <= 4
        assert (seen[0].max() > 1) == (norm == 1)
        assert all(m.norm == norm for m in head.modules() if isinstance(m, MultiSpike))


def test_dropout_ratio_works():
    head = _head(dropout_ratio=0.5).train()
    x = _levels()
    torch.manual_seed(0)
    a = head(x)
    torch.manual_seed(1)
    b = head(x)
    assert not torch.equal(a, b)
    head.eval()
    assert torch.equal(head(x), head(x))


def test_head_is_the_stock_head_with_spiking_convs():
    """Same keys and values from the same seed, every conv spiking, the stock forward."""
    kwargs = dict(in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3], feature_strides=[2, 4, 8, 16],
                  channels=8, num_classes=5)
    torch.manual_seed(0)
    head = SpikeFPNHead(**kwargs)
    rng = torch.get_rng_state()
    torch.manual_seed(0)
    stock = FPNHead(**kwargs)
    assert torch.equal(torch.get_rng_state(), rng)
    ours, theirs = head.state_dict(), stock.state_dict()
    assert list(ours) == list(theirs) and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not [n for n, m in head.named_modules() if type(m) is torch.nn.Conv2d]
    assert 'forward' not in vars(SpikeFPNHead) and 'cls_seg' not in vars(SpikeFPNHead)


def _spiking_fpn(**kwargs):
    return FPN(in_channels=[8, 8, 8, 8], out_channels=8, conv_cfg=SPIKE_CONV, **kwargs)


@pytest.mark.parametrize('extra', [False, 'on_input', 'on_lateral', 'on_output'])
def test_stock_mmseg_fpn_with_spiking_convs_levels_and_keys(extra):
    neck = _spiking_fpn(num_outs=5, add_extra_convs=extra)
    outs = neck(_levels())
    assert [tuple(o.shape[-2:]) for o in outs] == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    convs = [m.conv for m in [*neck.lateral_convs, *neck.fpn_convs]]
    assert [type(c) for c in convs] == [SpikeConv2d] * len(convs)
    assert sum(isinstance(m, MultiSpike) for m in neck.modules()) == len(convs)
    assert {m.norm for m in neck.modules() if isinstance(m, MultiSpike)} == {1.0}
    plain = FPN(in_channels=[8, 8, 8, 8], out_channels=8, num_outs=5, add_extra_convs=extra)
    assert {k: v.shape for k, v in neck.state_dict().items()} == \
        {k: v.shape for k, v in plain.state_dict().items()}


def test_stock_mmseg_fpn_with_spiking_convs_train_equals_eval_and_spike_driven():
    neck = _spiking_fpn(num_outs=5, add_extra_convs='on_output')
    x = _levels()
    with torch.no_grad():
        train_out, eval_out = neck.train()(x), neck.eval()(x)
    assert all(torch.equal(a, b) for a, b in zip(train_out, eval_out))
    report = verify_spike_driven(neck, x)
    assert report.ok(), report
    assert len(report.elements) == 4 + 5  # every lateral, output and extra conv's neuron


def _segmentor(feature_strides):
    return MODELS.build(dict(
        type='mmsdt.StrideCheckedEncoderDecoder',
        backbone=dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(1, 2, 3, 4)),
        neck=dict(type='FPN', in_channels=[24, 48, 96, 128], out_channels=16, num_outs=4,
                  conv_cfg=SPIKE_CONV),
        decode_head=dict(type='mmsdt.SpikeFPNHead', in_channels=[16] * 4, in_index=[0, 1, 2, 3],
                         feature_strides=feature_strides, channels=16, num_classes=4)))


def test_wrong_feature_strides_raise_at_build_time():
    with pytest.raises(ValueError, match=r'decode_head.feature_strides = \[4, 8, 16, 32\], but '
                       r'the backbone \+ neck produce \[4, 8, 16, 16\]'):
        _segmentor([4, 8, 16, 32])
    assert _segmentor([4, 8, 16, 16]).feature_strides == (4, 8, 16, 16)


@pytest.mark.parametrize('path', ADE_CONFIGS, ids=lambda p: p.split('/')[-1])
def test_ade_configs_build_and_infer_whole_and_slide(path):
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.decode_head.lr_mult == 2.0
    # docs/reference_numbers.md: recipe-ade
    assert cfg.train_cfg.max_iters == 160000
    model = MODELS.build(cfg.model).eval()
    assert model.feature_strides == (2, 4, 8, 16)
    img = torch.rand(1, 3, 512, 683) * 255
    meta = dict(img_shape=(512, 683), ori_shape=(512, 683), pad_shape=(512, 683))
    for mode in ('whole', 'slide'):
        model.test_cfg = ConfigDict(mode=mode, crop_size=(512, 512), stride=(341, 341))
        with torch.no_grad():
            data = model.data_preprocessor(
                dict(inputs=[img[0]], data_samples=[SegDataSample(metainfo=meta)]), False)
            out = model.predict(data['inputs'], data['data_samples'])
        assert out[0].pred_sem_seg.data.shape == (1, 512, 683)


def test_check_seg_labels_names_the_file(tmp_path):
    from mmseg.datasets.transforms import LoadAnnotations
    from mmsdt.datasets import CheckSegLabels
    label = np.full((8, 8), 2, np.uint8)
    label[0, 0] = 9
    path = tmp_path / 'bad_label.png'
    cv2.imwrite(str(path), label)
    results = LoadAnnotations(reduce_zero_label=True)(
        dict(seg_map_path=str(path), reduce_zero_label=True, seg_fields=[]))
    with pytest.raises(ValueError, match=r'bad_label.png: class id\(s\) \[8\]'):
        CheckSegLabels(num_classes=4)(results)
    label[0, 0] = 4
    cv2.imwrite(str(path), label)
    ok = LoadAnnotations(reduce_zero_label=True)(
        dict(seg_map_path=str(path), reduce_zero_label=True, seg_fields=[]))
    assert CheckSegLabels(num_classes=4)(ok) is ok
