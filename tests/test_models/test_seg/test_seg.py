"""Spiking Semantic-FPN head, stride-checked segmentor, ADE20K configs, label checks."""
import glob
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

import mmsdt.models  # noqa: F401
from mmsdt.models import SpikeFPNHead
from mmsdt.snn import MultiSpike, verify_spike_driven

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmseg_scope')
REPO = Path(__file__).resolve().parents[3]
ADE_CONFIGS = sorted(glob.glob(str(REPO / 'configs/e-spikeformer/seg/*.py')))
TOY = str(REPO / 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py')


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
    """Default 0..1 spikes (paper, norm=4); spike_cfg=dict(norm=1) gives integer counts 0..4."""
    x = [lvl * 3 for lvl in _levels()]
    for norm in (4, 1):
        torch.manual_seed(0)
        head = (_head() if norm == 4 else _head(spike_cfg=dict(norm=1))).eval()
        seen = []
        head.seg_spike.register_forward_hook(lambda m, i, o: seen.append(o))
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


def test_wrong_feature_strides_raise_at_build_time():
    cfg = Config.fromfile(TOY)
    model = cfg.model
    model.decode_head.feature_strides = [4, 8, 16, 32]
    with pytest.raises(ValueError, match=r'feature_strides = \[4, 8, 16, 32\].*strides '
                       r'\[4, 8, 16, 16\]'):
        MODELS.build(model)


@pytest.mark.parametrize('path', ADE_CONFIGS, ids=lambda p: p.split('/')[-1])
def test_ade_configs_build_and_infer_whole_and_slide(path):
    cfg = Config.fromfile(path)
    assert cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys.decode_head.lr_mult == 2.0
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
