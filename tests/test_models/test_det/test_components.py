"""Spiking neck and heads for mmdet: stock FPN with spiking convs, the head subclasses (stock
construction and weights, only the layers swapped), spike-driven equality, init, stride checks.
"""
import pytest
import torch
from mmdet.models.dense_heads import RetinaHead, RPNHead
from mmdet.models.necks import FPN
from mmdet.models.roi_heads.bbox_heads import (ConvFCBBoxHead, Shared2FCBBoxHead,
                                               Shared4Conv1FCBBoxHead)
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.hub import get_config
from torch import nn

import mmsdt.models  # noqa: F401
from mmsdt.models import (SpikeConvFCBBoxHead, SpikeFCNMaskHead, SpikeRetinaHead, SpikeRPNHead,
                          SpikeShared2FCBBoxHead, SpikeShared4Conv1FCBBoxHead)
from mmsdt.snn import (MultiSpike, SpikeConv2d, SpikeConvTranspose2d, SpikeLinear,
                       SpikeRecorder, verify_spike_driven)

register_all_modules(init_default_scope=False)
pytestmark = pytest.mark.usefixtures('mmdet_scope')
FEATS = [(1, 24, 32, 40), (1, 48, 16, 20), (1, 96, 8, 10), (1, 128, 8, 10)]
SPIKE_CONV = dict(type='mmsdt.SpikeConv2d')
PLAIN = (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)
SPIKING = (SpikeConv2d, SpikeLinear, SpikeConvTranspose2d)


def _feats(seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=g) * 2 for s in FEATS)


def _plain(module):
    """A synaptic layer without a spike (torch's or an mmcv wrapper of it)."""
    return isinstance(module, PLAIN) and not isinstance(module, SPIKING)


def _n_spikes(module):
    return sum(isinstance(m, MultiSpike) for m in module.modules())


def _spiking_fpn(**kwargs):
    return FPN(in_channels=[24, 48, 96, 128], out_channels=16, num_outs=5, conv_cfg=SPIKE_CONV,
               **kwargs)


@pytest.mark.parametrize('extra', [False, 'on_input', 'on_output'])
def test_stock_fpn_with_spiking_convs_levels_and_keys(extra):
    neck = _spiking_fpn(add_extra_convs=extra)
    outs = neck(_feats())
    assert [o.shape[-2:] for o in outs] == [(32, 40), (16, 20), (8, 10), (8, 10), (4, 5)]
    assert [type(m.conv) for m in [*neck.lateral_convs, *neck.fpn_convs]] == \
        [SpikeConv2d] * (len(neck.lateral_convs) + len(neck.fpn_convs))
    assert _n_spikes(neck) == len(neck.lateral_convs) + len(neck.fpn_convs)
    # the same parameter names and shapes as the plain FPN: its checkpoints load
    plain = FPN(in_channels=[24, 48, 96, 128], out_channels=16, num_outs=5, add_extra_convs=extra)
    assert {k: v.shape for k, v in neck.state_dict().items()} == \
        {k: v.shape for k, v in plain.state_dict().items()}


def test_stock_fpn_with_spiking_convs_train_equals_eval_and_spike_driven():
    neck = _spiking_fpn(add_extra_convs='on_input')
    feats = _feats()
    with torch.no_grad():
        train_out = neck.train()(feats)
        eval_out = neck.eval()(feats)
    for a, b in zip(train_out, eval_out):
        assert torch.equal(a, b)
    report = verify_spike_driven(neck.eval(), feats)
    assert report.ok(), report
    assert set(report.elements) == {n for n, m in neck.named_modules()
                                    if isinstance(m, MultiSpike)}


def _anchor_head_cfg(**kw):
    return dict(in_channels=16, feat_channels=16, num_classes=1,
                anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                                      strides=[4, 8, 16, 32, 64]), **kw)


class _Single(nn.Module):
    """``forward_single`` of a dense head as ``forward`` (for verify_spike_driven)."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x):
        return self.head.forward_single(x)


@pytest.mark.parametrize('num_convs', [1, 2])
def test_spike_rpn_head_forward_and_spike_driven(num_convs):
    head = SpikeRPNHead(**_anchor_head_cfg(num_convs=num_convs)).eval()
    x = torch.randn(2, 16, 12, 12)
    cls, reg = head.forward_single(x)
    assert cls.shape == (2, 3, 12, 12) and reg.shape == (2, 12, 12, 12)
    assert _n_spikes(head) == num_convs + 2  # stacked convs, rpn_cls, rpn_reg
    assert verify_spike_driven(_Single(head), x).ok()


def test_spike_retina_head_has_a_spike_per_conv():
    head = SpikeRetinaHead(num_classes=3, in_channels=16, feat_channels=16, stacked_convs=2,
                           anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                                 scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                                 strides=[8, 16, 32, 64, 128])).eval()
    x = torch.randn(1, 16, 10, 10)
    cls, reg = head.forward_single(x)
    assert cls.shape == (1, 27, 10, 10) and reg.shape == (1, 36, 10, 10)
    assert _n_spikes(head) == 2 * (2 + 1)
    assert verify_spike_driven(_Single(head), x * 2).ok()


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


def test_non_learned_mask_upsampling_gets_no_spike():
    head = SpikeFCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=3,
                            upsample_cfg=dict(type='bilinear', scale_factor=2))
    assert type(head.upsample) is nn.Upsample
    assert _n_spikes(head) == 1 + 1  # the conv and the logits
    assert head(torch.randn(2, 8, 7, 7)).shape == (2, 3, 14, 14)


# (spiking subclass, stock class, arguments of both)
SUBCLASSES = [
    (SpikeRPNHead, RPNHead, _anchor_head_cfg()),
    (SpikeRPNHead, RPNHead, _anchor_head_cfg(num_convs=2)),
    (SpikeRetinaHead, RetinaHead, _anchor_head_cfg(stacked_convs=2,
                                                   norm_cfg=dict(type='GN', num_groups=4))),
    (SpikeShared2FCBBoxHead, Shared2FCBBoxHead,
     dict(in_channels=16, fc_out_channels=32, roi_feat_size=7, num_classes=3)),
    (SpikeShared4Conv1FCBBoxHead, Shared4Conv1FCBBoxHead,
     dict(in_channels=16, conv_out_channels=8, fc_out_channels=32, roi_feat_size=7,
          num_classes=3)),
    (SpikeConvFCBBoxHead, ConvFCBBoxHead,
     dict(num_shared_convs=1, num_shared_fcs=0, num_cls_convs=1, num_cls_fcs=1, num_reg_convs=1,
          num_reg_fcs=2, in_channels=16, conv_out_channels=8, fc_out_channels=32,
          roi_feat_size=7, num_classes=3)),
    (SpikeFCNMaskHead, FCNMaskHead,
     dict(num_convs=2, in_channels=16, conv_out_channels=16, num_classes=3)),
]
IDS = ['rpn', 'rpn-2convs', 'retina-gn', 'shared2fc', 'shared4conv1fc', 'convfc', 'fcn-mask']


@pytest.mark.parametrize('spiking_cls, stock_cls, kwargs', SUBCLASSES, ids=IDS)
def test_head_subclass_is_the_stock_head_with_spiking_layers(spiking_cls, stock_cls, kwargs):
    """Same keys, same values from the same seed (same random stream at construction), every
    synaptic layer spiking, and no ``forward`` of its own: the stock forward runs."""
    torch.manual_seed(0)
    head = spiking_cls(**kwargs)
    rng = torch.get_rng_state()
    torch.manual_seed(0)
    stock = stock_cls(**kwargs)
    assert torch.equal(torch.get_rng_state(), rng)
    ours, theirs = head.state_dict(), stock.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert not [n for n, m in head.named_modules() if _plain(m)]
    assert sum(isinstance(m, SPIKING) for m in head.modules()) == \
        sum(_plain(m) for m in stock.modules())
    assert all(m.spike.norm == 1.0 for m in head.modules() if isinstance(m, SPIKING))
    for klass in [k for k in spiking_cls.__mro__ if k.__module__.startswith('mmsdt')]:
        assert not {'forward', 'forward_single'} & set(vars(klass)), klass


def test_rpn_neurons_fire_after_init_weights():
    head = SpikeRPNHead(**_anchor_head_cfg())
    head.init_weights()
    fan_in = 16 * 3 * 3
    assert abs(float(head.rpn_conv.weight.std()) - (2 / fan_in)**0.5) < 0.03
    with SpikeRecorder(head) as rec, torch.no_grad():
        head.forward_single(torch.randn(2, 16, 16, 16))  # BN-normalised neck output
    assert rec.stats['rpn_cls.spike'].nonzero_rate > 0.01  # with Normal(0.01) it is ~0


def test_retina_stacked_convs_get_kaiming_init():
    head = SpikeRetinaHead(**_anchor_head_cfg(stacked_convs=2))
    head.init_weights()
    fan_in = 16 * 3 * 3
    for module in [*head.cls_convs, *head.reg_convs]:
        assert abs(float(module.conv.weight.std()) - (2 / fan_in)**0.5) < 0.03
    assert float(head.retina_cls.weight.std()) < 0.02  # the stock Normal(0.01) init


def test_neck_and_heads_default_to_integer_spikes_and_keep_firing_after_stock_init():
    """norm=1 by default; with it the stock-initialised bbox head passes spikes on to fc_cls
    (with norm=4 the second FC's output mostly stays under the first threshold)."""
    modules = [FPN(in_channels=[8, 16], out_channels=8, num_outs=2, conv_cfg=SPIKE_CONV),
               SpikeRPNHead(**_anchor_head_cfg()), SpikeRetinaHead(**_anchor_head_cfg()),
               SpikeFCNMaskHead(num_convs=1, in_channels=8, conv_out_channels=8, num_classes=3),
               SpikeShared2FCBBoxHead(in_channels=8, fc_out_channels=8, num_classes=3)]
    for module in modules:
        norms = {m.norm for m in module.modules() if isinstance(m, MultiSpike)}
        assert norms == {1.0}, (type(module).__name__, norms)
    fpn4 = FPN(in_channels=[8, 16], out_channels=8, num_outs=2,
               conv_cfg=dict(SPIKE_CONV, spike_cfg=dict(norm=4)))
    rpn4 = SpikeRPNHead(**_anchor_head_cfg(spike_cfg=dict(norm=4)))
    for module in (fpn4, rpn4):
        assert {m.norm for m in module.modules() if isinstance(m, MultiSpike)} == {4.0}

    rates = {}
    for norm in (1, 4):
        torch.manual_seed(0)
        head = SpikeShared2FCBBoxHead(in_channels=64, fc_out_channels=256, roi_feat_size=7,
                                      num_classes=3, spike_cfg=dict(norm=norm))
        head.init_weights()  # mmdet's Xavier / Normal init
        with SpikeRecorder(head) as rec, torch.no_grad():
            head(torch.randn(64, 64, 7, 7))  # BN-normalised RoI features
        rates[norm] = rec.stats['fc_cls.spike'].nonzero_rate
    assert rates[1] > 0.1 and rates[4] < rates[1] / 4, rates


def _mask_rcnn(stage4_stride, rpn_strides, roi_strides):
    cfg = get_config('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py').model
    cfg.type = 'mmsdt.StrideCheckedMaskRCNN'
    cfg.backbone = dict(type='mmsdt.ESpikeFormer', arch='2.7m', stage4_stride=stage4_stride)
    cfg.neck = dict(type='FPN', in_channels=[24, 48, 96, 128], out_channels=16, num_outs=5,
                    conv_cfg=SPIKE_CONV)
    cfg.rpn_head.update(type='mmsdt.SpikeRPNHead', in_channels=16, feat_channels=16)
    cfg.rpn_head.anchor_generator.strides = rpn_strides
    roi = cfg.roi_head
    for name in ('bbox_roi_extractor', 'mask_roi_extractor'):
        roi[name].update(out_channels=16, featmap_strides=roi_strides)
    roi.bbox_head.update(type='mmsdt.SpikeShared2FCBBoxHead', in_channels=16,
                         fc_out_channels=32, num_classes=3)
    roi.mask_head.update(type='mmsdt.SpikeFCNMaskHead', in_channels=16, conv_out_channels=16,
                         num_convs=1, num_classes=3)
    return MODELS.build(cfg)


def test_stride_mismatch_raises_at_build_time():
    with pytest.raises(ValueError,
                       match=r'rpn_head.prior_generator.strides = \[4, 8, 16, 32, 64\], '
                       r'but the backbone \+ neck produce \[4, 8, 16, 16, 32\]'):
        _mask_rcnn(1, [4, 8, 16, 32, 64], [4, 8, 16, 32])
    with pytest.raises(ValueError, match=r'roi_head.mask_roi_extractor.featmap_strides = '
                       r'\[4, 8, 16, 32\], but the backbone \+ neck produce \[4, 8, 16, 16\]'):
        _mask_rcnn(1, [4, 8, 16, 16, 32], [4, 8, 16, 32])
    # stride-16 stage 4 with matching strides builds
    det = _mask_rcnn(1, [4, 8, 16, 16, 32], [4, 8, 16, 16])
    assert det.feature_strides == (4, 8, 16, 16, 32)
    assert _mask_rcnn(2, [4, 8, 16, 32, 64], [4, 8, 16, 32]).feature_strides == \
        (4, 8, 16, 32, 64)


def test_retinanet_anchor_strides_are_checked():
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py').model
    cfg.type = 'mmsdt.StrideCheckedRetinaNet'
    cfg.backbone = dict(type='mmsdt.ESpikeFormer', arch='2.7m', out_indices=(2, 3, 4))
    cfg.neck = dict(type='FPN', in_channels=[48, 96, 128], out_channels=16, num_outs=5,
                    start_level=0, add_extra_convs='on_input', conv_cfg=SPIKE_CONV)
    cfg.bbox_head.update(type='mmsdt.SpikeRetinaHead', in_channels=16, feat_channels=16,
                         stacked_convs=1, num_classes=3)
    with pytest.raises(ValueError, match=r'bbox_head.prior_generator.strides = '
                       r'\[8, 16, 32, 64, 128\], but the backbone \+ neck produce '
                       r'\[8, 16, 16, 32, 64\]'):
        MODELS.build(cfg)
    cfg.bbox_head.anchor_generator.strides = [8, 16, 16, 32, 64]
    assert MODELS.build(cfg).feature_strides == (8, 16, 16, 32, 64)
