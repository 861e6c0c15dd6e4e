"""Spiking neck and heads: shapes, strides, spike-driven equality, init, stride checks."""
import pytest
import torch
from mmdet.models.necks import FPN
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import ConfigDict

import mmsdt.models  # noqa: F401
from mmsdt.models import (SpikeFCNMaskHead, SpikeFPN, SpikeRetinaHead,
                          SpikeRPNHead, SpikeShared2FCBBoxHead,
                          SpikeShared4Conv1FCBBoxHead)
from mmsdt.snn import MultiSpike, verify_spike_driven

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')
FEATS = [(1, 24, 32, 40), (1, 48, 16, 20), (1, 96, 8, 10), (1, 128, 8, 10)]


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=g) * 2 for s in FEATS)


def _n_spikes(module):
    return sum(isinstance(m, MultiSpike) for m in module.modules())


@pytest.mark.parametrize('extra', [False, 'on_input', 'on_output'])
def test_spike_fpn_levels_and_keys(extra):
    kwargs = dict(in_channels=[24, 48, 96, 128], out_channels=16, num_outs=5,
                  add_extra_convs=extra)
    neck = SpikeFPN(**kwargs)
    outs = neck(_feats())
    assert [o.shape[-2:] for o in outs] == [(32, 40), (16, 20), (8, 10), (8, 10), (4, 5)]
    assert _n_spikes(neck) == len(neck.lateral_convs) + len(neck.fpn_convs)
    # same parameters, same names as mmdet's FPN: its checkpoints load
    assert {k: v.shape for k, v in neck.state_dict().items()} == \
        {k: v.shape for k, v in FPN(**kwargs).state_dict().items()}


def test_spike_fpn_train_equals_eval_and_spike_driven():
    neck = SpikeFPN([24, 48, 96, 128], 16, num_outs=5, add_extra_convs='on_input')
    feats = _feats()
    with torch.no_grad():
        train_out = neck.train()(feats)
        eval_out = neck.eval()(feats)
    for a, b in zip(train_out, eval_out):
        assert torch.equal(a, b)
    report = verify_spike_driven(neck, feats)
    assert report.ok(), report


def test_spike_fpn_rejects_wrong_level_count():
    with pytest.raises(ValueError, match='expects 4 input levels'):
        SpikeFPN([24, 48, 96, 128], 16, num_outs=5)(_feats()[:3])


def _anchor_head_cfg(**kw):
    return dict(in_channels=16, feat_channels=16, num_classes=1,
                anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                                      strides=[4, 8, 16, 32, 64]), **kw)


def test_spike_rpn_head_forward_and_spike_driven():
    head = SpikeRPNHead(**_anchor_head_cfg()).eval()
    x = torch.randn(2, 16, 12, 12)
    cls, reg = head.forward_single(x)
    assert cls.shape == (2, 3, 12, 12) and reg.shape == (2, 12, 12, 12)
    assert _n_spikes(head) == 2 and not hasattr(head, 'relu')

    class Single(torch.nn.Module):

        def __init__(self, head):
            super().__init__()
            self.head = head

        def forward(self, x):
            return self.head.forward_single(x)

    assert verify_spike_driven(Single(head), x).ok()


def test_spike_retina_head_has_a_spike_per_conv():
    head = SpikeRetinaHead(num_classes=3, in_channels=16, feat_channels=16, stacked_convs=2,
                           anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                                 scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                                 strides=[8, 16, 32, 64, 128]))
    cls, reg = head.forward_single(torch.randn(1, 16, 10, 10))
    assert cls.shape == (1, 27, 10, 10) and reg.shape == (1, 36, 10, 10)
    assert _n_spikes(head) == 2 * (2 + 1)


def test_spike_bbox_head_spikes_every_fc_and_matches_spike_mode():
    head = SpikeShared2FCBBoxHead(in_channels=16, fc_out_channels=32, roi_feat_size=7,
                                  num_classes=3).eval()
    rois = torch.randn(5, 16, 7, 7) * 2
    cls, reg = head(rois)
    assert cls.shape == (5, 4) and reg.shape == (5, 12)
    assert _n_spikes(head) == 2 + 2  # two shared FCs, then fc_cls and fc_reg
    assert verify_spike_driven(head, rois).ok()


def test_spike_4conv1fc_bbox_head_spikes_every_conv_and_fc():
    """The cascade-style bbox head: 4 shared convs (BN) + 1 FC, all fed by spikes."""
    head = SpikeShared4Conv1FCBBoxHead(in_channels=16, conv_out_channels=8, fc_out_channels=32,
                                       roi_feat_size=7, num_classes=3,
                                       norm_cfg=dict(type='BN')).eval()
    assert [type(c.bn).__name__ for c in head.shared_convs] == ['BatchNorm2d'] * 4
    rois = torch.randn(5, 16, 7, 7) * 2
    cls, reg = head(rois)
    assert cls.shape == (5, 4) and reg.shape == (5, 12)
    assert _n_spikes(head) == 4 + 1 + 2  # shared convs, shared FC, fc_cls and fc_reg
    assert verify_spike_driven(head, rois).ok()


def test_spike_mask_head_init_really_initialises_deconv_and_logits():
    head = SpikeFCNMaskHead(num_convs=2, in_channels=16, conv_out_channels=16, num_classes=3)
    torch.nn.init.constant_(head.conv_logits.bias, 1.0)
    torch.nn.init.constant_(head.upsample.weight, 1.0)
    head.init_weights()
    assert torch.all(head.conv_logits.bias == 0)
    assert head.upsample.weight.std() > 0
    out = head(torch.randn(3, 16, 14, 14))
    assert out.shape == (3, 3, 28, 28)
    assert _n_spikes(head) == 2 + 1 + 1
    assert verify_spike_driven(head.eval(), torch.randn(3, 16, 14, 14) * 2).ok()


def _toy_mask_rcnn(stage4_stride, rpn_strides, roi_strides):
    from mmengine.config import Config
    cfg = Config.fromfile('configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-600i_toy-coco.py')
    model = ConfigDict(cfg.model)
    model.backbone.stage4_stride = stage4_stride
    model.rpn_head.anchor_generator.strides = rpn_strides
    model.roi_head.bbox_roi_extractor.featmap_strides = roi_strides
    model.roi_head.mask_roi_extractor.featmap_strides = roi_strides
    return MODELS.build(model)


def test_stride_mismatch_raises_at_build_time(repo_root):
    with pytest.raises(ValueError,
                       match=r'rpn_head.prior_generator.strides = \[4, 8, 16, 32, 64\], '
                       r'but the backbone \+ neck produce \[4, 8, 16, 16, 32\]'):
        _toy_mask_rcnn(1, [4, 8, 16, 32, 64], [4, 8, 16, 32])
    # stride-16 stage 4 with matching strides builds
    det = _toy_mask_rcnn(1, [4, 8, 16, 16, 32], [4, 8, 16, 16])
    assert det.feature_strides == (4, 8, 16, 16, 32)
    assert _toy_mask_rcnn(2, [4, 8, 16, 32, 64], [4, 8, 16, 32]).feature_strides == \
        (4, 8, 16, 32, 64)


def test_rpn_neurons_fire_after_init_weights():
    from mmsdt.snn import SpikeRecorder
    head = SpikeRPNHead(**_anchor_head_cfg())
    head.init_weights()
    fan_in = 16 * 3 * 3
    assert abs(float(head.rpn_conv.weight.std()) - (2 / fan_in)**0.5) < 0.03
    with SpikeRecorder(head) as rec, torch.no_grad():
        head.forward_single(torch.randn(2, 16, 16, 16))  # BN-normalised neck output
    assert rec.stats['out_spike'].nonzero_rate > 0.01  # with Normal(0.01) it is ~0


def test_neck_and_heads_default_to_integer_spikes_and_keep_firing_after_stock_init():
    """norm=1 by default; with it the stock-initialised bbox head passes spikes on to fc_cls
    (with norm=4 the second FC's output mostly stays under the first threshold)."""
    from mmsdt.snn import SpikeRecorder
    modules = [SpikeFPN(in_channels=[8, 16], out_channels=8, num_outs=2),
               SpikeRPNHead(**_anchor_head_cfg()), SpikeRetinaHead(**_anchor_head_cfg()),
               SpikeFCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=3)]
    for module in modules:
        norms = {m.norm for m in module.modules() if isinstance(m, MultiSpike)}
        assert norms == {1.0}, (type(module).__name__, norms)
    assert {m.norm for m in SpikeFPN(in_channels=[8, 16], out_channels=8, num_outs=2,
                                     spike_cfg=dict(norm=4)).modules()
            if isinstance(m, MultiSpike)} == {4.0}

    rates = {}
    for norm in (1, 4):
        torch.manual_seed(0)
        head = SpikeShared2FCBBoxHead(in_channels=64, fc_out_channels=256, roi_feat_size=7,
                                      num_classes=3, spike_cfg=dict(norm=norm))
        head.init_weights()  # mmdet's Xavier / Normal init
        with SpikeRecorder(head) as rec, torch.no_grad():
            head(torch.randn(64, 64, 7, 7))  # BN-normalised RoI features
        rates[norm] = rec.stats['cls_out_spike'].nonzero_rate
    assert rates[1] > 0.1 and rates[4] < rates[1] / 4, rates
