"""Event-camera detection models: mmsdt.EventDetDataPreprocessor (stack, pad, checks) and
mmsdt.StreamingRetinaNet (the stateful backbone's membranes carried from window to window of
a recording, reset per batch row at first_in_recording)."""
import copy

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

import mmsdt.models  # noqa: F401
from mmsdt.models import ESpikeFormer
from mmsdt.registry import MODELS
from mmsdt.snn import fold_time
from mmsdt.snn.stream_state import StreamState, carrying

TINY = dict(embed_dims=(8, 16, 16, 16), depths=(1, 1, 1, 1, 1), num_heads=1)


def _sample(h=40, w=56, first=True, recording='rec_a', ts=600000):
    meta = dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1., 1.), recording=recording,
                timestamp=ts, first_in_recording=first, event_file=f'{recording}_td.dat')
    if first is None:
        del meta['first_in_recording']
    sample = DetDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(bboxes=HorizontalBoxes(torch.tensor([[4., 6., 30., 33.]])),
                                       labels=torch.tensor([1]))
    return sample


def test_preprocessor_stacks_pads_and_keeps_values():
    pre = MODELS.build(dict(type='mmsdt.EventDetDataPreprocessor', num_frames=3,
                            pad_size_divisor=16))
    frames = [torch.randint(0, 3, (3, 2, 40, 56)).to(torch.uint8),
              torch.rand(3, 2, 33, 50)]
    samples = [_sample(40, 56), _sample(33, 50)]
    out = pre(dict(inputs=frames, data_samples=samples), training=True)
    batch = out['inputs']
    assert batch.shape == (2, 3, 2, 48, 64) and batch.dtype == torch.float32
    assert torch.equal(batch[0, :, :, :40, :56], frames[0].float())  # no mean / std / BGR
    assert torch.equal(batch[1, :, :, :33, :50], frames[1])
    assert batch[1, :, :, 33:].abs().sum() == 0 and batch[1, ..., 50:].abs().sum() == 0
    metas = [s.metainfo for s in out['data_samples']]
    assert all(m['batch_input_shape'] == (48, 64) for m in metas)
    assert [m['pad_shape'] for m in metas] == [(48, 64), (48, 64)]
    assert isinstance(out['data_samples'][0].gt_instances.bboxes, torch.Tensor)  # boxtype2tensor


def test_preprocessor_errors_name_the_recording():
    pre = MODELS.build(dict(type='mmsdt.EventDetDataPreprocessor', num_frames=3))
    with pytest.raises(ValueError, match=r'rec_b_td\.dat at 600000 us: the data has T = 2'):
        pre(dict(inputs=[torch.rand(2, 2, 8, 8)], data_samples=[_sample(recording='rec_b')]))
    with pytest.raises(ValueError, match=r'expected frames \(T, C, H, W\), got shape'):
        pre(dict(inputs=[torch.rand(2, 8, 8)], data_samples=[_sample()]))
    with pytest.raises(ValueError, match=r'\(T, C\) = \(3, 1\) differ'):
        pre(dict(inputs=[torch.rand(3, 2, 8, 8), torch.rand(3, 1, 8, 8)],
                 data_samples=[_sample(), _sample(recording='rec_c')]))


def _streaming_retinanet(**kwargs):
    cfg = dict(
        type='mmsdt.StreamingRetinaNet',
        data_preprocessor=dict(type='mmsdt.EventDetDataPreprocessor', pad_size_divisor=16),
        backbone=dict(type='mmsdt.ESpikeFormer', arch=TINY, in_channels=2, out_indices=(2, 4),
                      neuron_mode='stateful', channels_last=False, compact_spikes=False),
        neck=dict(type='FPN', in_channels=[16, 16], out_channels=16, num_outs=2,
                  norm_cfg=dict(type='BN'), conv_cfg=dict(type='mmsdt.SpikeConv2d')),
        bbox_head=dict(
            type='mmsdt.SpikeRetinaHead', num_classes=2, in_channels=16, stacked_convs=1,
            feat_channels=16,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=2,
                                  scales_per_octave=1, ratios=[1.0], strides=[8, 16]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True), loss_bbox=dict(type='L1Loss')),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                       debug=False),
        test_cfg=ConfigDict(nms_pre=100, min_bbox_size=0, score_thr=0.0,
                            nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))
    cfg['backbone'].update(kwargs)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def test_backbone_windows_with_carry_equal_one_long_run():
    """Two windows of T = 2 with the carry give the per-step stage outputs of one T = 4 run
    (float64, eval mode: every op but the neuron is per frame)."""
    torch.manual_seed(0)
    backbone = ESpikeFormer(TINY, in_channels=2, out_indices=(4, ), neuron_mode='stateful',
                            channels_last=False, compact_spikes=False).double().eval()
    x = torch.rand(2, 4, 2, 32, 32, dtype=torch.float64) * 2
    with torch.no_grad():
        whole = backbone.forward_stages(fold_time(x), 4)[-1].unflatten(0, (4, 2))
        state = StreamState()
        parts = []
        for i, first in ((0, True), (2, False)):
            state.begin([first] * 2)
            with carrying(state):
                parts.append(backbone.forward_stages(fold_time(x[:, i:i + 2]), 2)[-1]
                             .unflatten(0, (2, 2)))
        fresh = backbone.forward_stages(fold_time(x[:, 2:]), 2)[-1].unflatten(0, (2, 2))
    torch.testing.assert_close(torch.cat(parts), whole, rtol=0, atol=1e-12)
    assert (parts[1] - fresh).abs().max() > 1e-3  # the carried membrane changed the result


def test_streaming_detector_resets_at_first_in_recording_per_row():
    torch.manual_seed(0)
    model = _streaming_retinanet()
    windows = [torch.rand(2, 2, 2, 40, 56) * 3 for _ in range(2)]

    def run(det, frames, flags, recordings=('a', 'b')):
        """The backbone's feature maps of one detector forward (tensor mode)."""
        data = det.data_preprocessor(dict(inputs=list(frames), data_samples=[
            _sample(first=f, recording=r) for f, r in zip(flags, recordings)]))
        feats = []
        hook = det.backbone.register_forward_hook(lambda m, i, out: feats.extend(out))
        with torch.no_grad():
            det(**data, mode='tensor')
        hook.remove()
        return feats

    fresh = copy.deepcopy(model)  # an EMA-style copy starts with no carried state
    assert len(fresh.stream_state) == 0
    run(model, windows[0], [True, True])
    assert len(model.stream_state) > 0
    carried = run(model, windows[1], [False, True])
    alone_a = run(fresh, windows[1][:1], [True], ('a', ))
    fresh.reset_stream()
    alone_b = run(fresh, windows[1][1:], [True], ('b', ))
    for level, (c, a, b) in enumerate(zip(carried, alone_a, alone_b)):
        torch.testing.assert_close(c[1:], b, msg=f'row 1 (first_in_recording) level {level}')
        assert (c[:1] - a).abs().max() > 1e-4, f'row 0 did not carry at level {level}'
    # a continuing row without a previous call is refused
    model.reset_stream()
    with pytest.raises(ValueError, match='continue a recording'):
        run(model, windows[0], [False, False])


def test_streaming_detector_needs_stateful_neurons_and_first_in_recording():
    with pytest.raises(ValueError, match="neuron_mode='stateful'"):
        _streaming_retinanet(neuron_mode='stateless')
    with pytest.raises(ValueError, match='with_cp'):
        _streaming_retinanet(with_cp=True)
    model = _streaming_retinanet()
    data = model.data_preprocessor(dict(inputs=[torch.rand(2, 2, 40, 56)],
                                        data_samples=[_sample(first=None)]))
    with pytest.raises(ValueError, match="rec_a.*600000.*no metainfo 'first_in_recording'"):
        model(**data, mode='predict')


def test_streaming_detector_trains_with_carry():
    torch.manual_seed(0)
    model = _streaming_retinanet().train()
    for first in (True, False):
        data = model.data_preprocessor(dict(inputs=[torch.rand(2, 2, 40, 56) * 3] * 2,
                                            data_samples=[_sample(first=first)] * 2), True)
        losses = model(**data, mode='loss')
        total = sum(v if torch.is_tensor(v) else sum(v) for v in losses.values())
        total.backward()
    assert torch.isfinite(total)
    assert model.stream_state.batch_size == 2
