"""The Prophesee detection protocol (mmsdt.evaluation) on hand-made boxes.

Expected values are computed by hand with COCO's 101-point interpolated AP: precision at each
recall threshold r in 0, 0.01, ..., 1 is the best precision reached at a recall >= r (0 when
recall never reaches r), averaged over the thresholds (pycocotools' COCOeval.accumulate). With
one class and IoU 1 or 0 boxes, every IoU threshold gives the same AP, so mAP == mAP_50.
"""
import numpy as np
import pytest

from mmsdt.evaluation.functional import (EVAL_BOX_DTYPE, evaluate_prophesee,
                                         filter_prophesee_boxes)

T0 = 600_000  # a time after the 0.5 s skip (µs)


def boxes(*rows):
    """Rows (t, x, y, w, h[, class_id[, score]]) as a time-sorted evaluation array."""
    full = [r + (0, 1.0)[len(r) - 5:] if len(r) < 7 else r for r in rows]
    arr = np.array([tuple(r) for r in full], EVAL_BOX_DTYPE) if full else \
        np.zeros(0, EVAL_BOX_DTYPE)
    return arr[np.argsort(arr['t'], kind='stable')]


def ap(gts, dts, **kw):
    return evaluate_prophesee([gts], [dts], **kw)


def ap101(*precision_and_count):
    """Hand formula: sum of precision * number of recall thresholds it covers, over 101."""
    return sum(p * n for p, n in precision_and_count) / 101


A = (20., 20., 40., 30.)     # well-sized boxes (diag 50, sides >= 30), IoU 0 with each other
B = (150., 100., 50., 40.)
TINY = (250., 200., 6., 6.)  # diag 8.5 < 30, sides < 10


def test_filter_time_is_strictly_after_skip_and_sizes_inclusive():
    b = boxes((500_000, 0, 0, 40, 40), (500_001, 0, 0, 40, 40),      # skip: t > 0.5 s
              (T0, 0, 0, 18, 24), (T0, 0, 0, 18, 23.9),             # diag 30 kept, < 30 not
              (T0, 0, 0, 10, 100), (T0, 0, 0, 9.99, 100),           # side 10 kept, < 10 not
              (T0, 0, 0, 100, 9.99))
    kept = filter_prophesee_boxes(b, skip_ts_us=500_000, min_box_diag=30, min_box_side=10)
    assert kept['t'].tolist() == [500_001, T0, T0]
    assert kept['w'].tolist() == [40, 18, 10]
    # 1Mpx thresholds at full resolution: 60 / 20
    big = boxes((T0, 0, 0, 36, 48), (T0, 0, 0, 36, 47), (T0, 0, 0, 19, 100))
    assert filter_prophesee_boxes(big, 500_000, 60, 20)['h'].tolist() == [48]


def test_filter_accepts_release_field_names():
    release = np.zeros(2, [('ts', '<u8'), ('x', '<f4'), ('y', '<f4'), ('w', '<f4'),
                           ('h', '<f4'), ('class_id', 'u1'), ('confidence', '<f4'),
                           ('track_id', '<u4')])
    release['ts'] = [100_000, T0]
    release['w'] = release['h'] = 40
    assert filter_prophesee_boxes(release)['ts'].tolist() == [T0]


def test_perfect_detections_score_one():
    gt = boxes((T0, *A, 0), (T0, *B, 1), (T0 + 100_000, *A, 1))
    dt = boxes((T0, *A, 0, .9), (T0, *B, 1, .8), (T0 + 100_000, *A, 1, .7))
    res = ap(gt, dt)
    for key in ('mAP', 'mAP_50', 'mAP_75', 'mAP_m'):
        assert res.stats[key] == pytest.approx(1.0, abs=1e-12)
    assert res.stats['mAP_s'] == -1 and res.stats['mAP_l'] == -1  # no gt of those sizes
    assert (res.num_gt, res.num_dets, res.num_images) == (3, 3, 2)


def test_hand_ranked_ap():
    # 2 gts; ranking TP (1.0 precision at recall .5), FP, TP (2/3 at recall 1):
    # thresholds 0..0.50 -> 1 (51 of them), 0.51..1 -> 2/3 (50)
    gt = boxes((T0, *A), (T0, *B))
    dt = boxes((T0, *A, 0, .9), (T0, 200., 150., 30., 30., 0, .8), (T0, *B, 0, .7))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(ap101((1, 51), (2 / 3, 50)), abs=1e-12)


def test_labels_and_detections_up_to_half_a_second_are_skipped():
    gt = boxes((400_000, *B), (500_000, *B), (T0, *A))        # two early gts never detected
    dt = boxes((450_000, 200., 150., 30., 30., 0, .99),       # early false positives,
               (500_000, *B, 0, .98),                         # scored above the true one
               (T0, *A, 0, .5))
    res = ap(gt, dt)
    assert res.stats['mAP_50'] == pytest.approx(1.0, abs=1e-12)
    assert (res.num_gt, res.num_dets) == (1, 1)
    # without the skip: images at 0.4, 0.5 and 0.6 s (3 gts); the 0.45 s detection lies
    # within 50 ms of 0.4 and 0.5 s, a FP in both. Ranking: FP .99, FP .99, TP .98, TP .5:
    # precision 1/3 at recall 1/3, 1/2 at recall 2/3 -> thresholds 0..0.66 (67) at 1/2
    res = ap(gt, dt, skip_ts_us=0)
    assert res.stats['mAP_50'] == pytest.approx(ap101((1 / 2, 67)), abs=1e-12)


def test_tiny_missed_ground_truth_does_not_lower_ap():
    gt = boxes((T0, *A), (T0, *TINY), (T0, *B))
    dt = boxes((T0, *A, 0, .9), (T0, *B, 0, .8))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(1.0, abs=1e-12)
    # unfiltered: recall 2/3 at precision 1 -> thresholds 0..0.66 (67 of 101)
    unfiltered = ap(gt, dt, apply_filters=False)
    assert unfiltered.stats['mAP_50'] == pytest.approx(ap101((1, 67)), abs=1e-12)
    assert unfiltered.num_gt == 3


def test_tiny_false_positive_is_removed():
    gt = boxes((T0, *A))
    dt = boxes((T0, *TINY, 0, .99), (T0, 0., 0., 8., 100., 0, .98), (T0, *A, 0, .5))
    res = ap(gt, dt)
    assert res.stats['mAP_50'] == pytest.approx(1.0, abs=1e-12) and res.num_dets == 1
    # unfiltered: two FPs above the TP: precision 1/3 at recall 1 for every threshold
    assert ap(gt, dt, apply_filters=False).stats['mAP_50'] == pytest.approx(1 / 3, abs=1e-12)


def test_detections_count_at_every_labelled_time_within_tolerance():
    # labels 30 ms apart: each detection lies within 50 ms of both, so it is a TP in its own
    # image and a FP in the other. Ranking (stable in image order on ties): TP .9, FP .9,
    # FP .8, TP .8 -> precision 1 up to recall .5 (51 thresholds), 1/2 at recall 1 (50).
    t1, t2 = T0, T0 + 30_000
    gt = boxes((t1, *A), (t2, *B))
    dt = boxes((t1, *A, 0, .9), (t2, *B, 0, .8))
    res = ap(gt, dt)
    assert res.stats['mAP_50'] == pytest.approx(ap101((1, 51), (1 / 2, 50)), abs=1e-12)
    assert res.num_dets_matched == 4
    # no tolerance (RVT's per-sample evaluation) or labels further apart: perfect
    assert ap(gt, dt, time_tol_us=0).stats['mAP_50'] == pytest.approx(1.0, abs=1e-12)
    far = boxes((t1, *A), (t1 + 60_000, *B))
    far_dt = boxes((t1, *A, 0, .9), (t1 + 60_000, *B, 0, .8))
    assert ap(far, far_dt).stats['mAP_50'] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize('offset,expected', [(50_000, 1.0), (-50_000, 1.0), (50_001, 0.0)])
def test_detection_time_window_is_inclusive(offset, expected):
    gt = boxes((T0, *A))
    dt = boxes((T0 + offset, *A, 0, .9))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(expected, abs=1e-12)


def test_class_ids():
    # class 0 found; the class-1 object detected as class 0 is a class-0 FP (ranked last)
    # and a class-1 miss: AP(car) = 1, AP(pedestrian) = 0
    gt = boxes((T0, *A, 0), (T0, *B, 1))
    dt = boxes((T0, *A, 0, .9), (T0, *B, 0, .8))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(0.5, abs=1e-12)
    # class ids beyond `classes` are not evaluated (1Mpx: 3 of 7 classes)
    gt = boxes((T0, *A, 0), (T0, *B, 5))
    dt = boxes((T0, *A, 0, .9))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(1.0, abs=1e-12)
    # ... but their labelled time is an image: a class-0 detection there is a FP
    gt = boxes((T0, *A, 0), (T0 + 200_000, *B, 5))
    dt = boxes((T0, *A, 0, .5), (T0 + 200_000, *B, 0, .9))
    assert ap(gt, dt).stats['mAP_50'] == pytest.approx(1 / 2, abs=1e-12)


def test_recordings_are_independent():
    # the same time in two recordings: the detection of one is not matched to the other
    gt1, gt2 = boxes((T0, *A)), boxes((T0, *B))
    res = evaluate_prophesee([gt1, gt2], [boxes((T0, *A, 0, .9)), boxes((T0, *B, 0, .8))])
    assert res.stats['mAP_50'] == pytest.approx(1.0, abs=1e-12) and res.num_images == 2


def test_no_detections_and_no_ground_truth():
    gt = boxes((T0, *A))
    res = ap(gt, boxes())
    assert res.stats['mAP'] == 0 and res.stats['mAP_50'] == 0 and res.stats['mAP_s'] == -1
    # every label filtered out: nothing to evaluate, pycocotools' -1
    res = ap(boxes((T0, *TINY)), boxes((T0, *A, 0, .9)))
    assert res.num_images == 0 and res.stats['mAP_50'] == -1


def test_bad_input_names_the_recording():
    gt = boxes((T0, *A), (T0 + 1, *B))[::-1]
    with pytest.raises(ValueError, match="rec_b.*not sorted"):
        evaluate_prophesee([boxes(), gt], [boxes(), boxes()], names=['rec_a', 'rec_b'])
    with pytest.raises(ValueError, match='2 ground-truth recordings but 1'):
        evaluate_prophesee([boxes(), boxes()], [boxes()])
    no_score = np.zeros(1, [('t', '<i8'), ('x', '<f4'), ('y', '<f4'), ('w', '<f4'),
                            ('h', '<f4'), ('class_id', '<u4')])
    with pytest.raises(ValueError, match="rec_a.*class_confidence"):
        evaluate_prophesee([boxes()], [no_score], names=['rec_a'])


# --- the mmengine metric ------------------------------------------------------------------

def det_sample(recording, timestamp, gt=(), preds=(), scale=(1.0, 1.0), hw=(240, 304)):
    """A DetDataSample as PackEventDetInputs packs it (gt xywh rows (x, y, w, h, label) in
    img_shape pixels) with pred_instances (rows (x, y, w, h, label, score), ori_shape)."""
    import torch
    from mmdet.structures import DetDataSample
    from mmdet.structures.bbox import HorizontalBoxes
    from mmengine.structures import InstanceData

    def xyxy(rows):
        return torch.tensor([[x, y, x + w, y + h] for x, y, w, h, *_ in rows],
                            dtype=torch.float32).reshape(-1, 4)

    sample = DetDataSample(metainfo=dict(recording=recording, timestamp=timestamp,
                                         first_in_recording=False, scale_factor=scale,
                                         ori_shape=hw, img_shape=hw))
    sample.gt_instances = InstanceData(
        bboxes=HorizontalBoxes(xyxy(gt) * torch.tensor(scale * 2, dtype=torch.float32)),
        labels=torch.tensor([r[4] for r in gt], dtype=torch.int64))
    sample.pred_instances = InstanceData(
        bboxes=xyxy(preds), labels=torch.tensor([r[4] for r in preds], dtype=torch.int64),
        scores=torch.tensor([r[5] for r in preds], dtype=torch.float32))
    return sample


def run_metric(samples, batch=2, **kw):
    from mmsdt.evaluation import PropheseeDetMetric
    metric = PropheseeDetMetric(**{'classes': ('car', 'pedestrian'), **kw})
    for i in range(0, len(samples), batch):
        metric.process({}, [s.to_dict() for s in samples[i:i + batch]])
    return metric.evaluate(len(samples))


def test_metric_is_registered_for_mmdet_configs():
    from mmdet.registry import METRICS as MMDET_METRICS
    from mmengine.registry import METRICS as ROOT_METRICS

    from mmsdt.evaluation import PropheseeDetMetric
    cfg = dict(type='mmsdt.PropheseeDetMetric', classes=('car', 'pedestrian'))
    assert isinstance(MMDET_METRICS.build(dict(cfg)), PropheseeDetMetric)
    assert isinstance(ROOT_METRICS.build(dict(cfg)), PropheseeDetMetric)


def test_metric_groups_by_recording_in_time_order():
    t1, t2 = T0, T0 + 30_000
    samples = [  # arrival order shuffled across recordings and times
        det_sample('rec_b', t2, gt=[(*B, 1)], preds=[(*B, 1, .6)]),
        det_sample('rec_a', t2, gt=[(*B, 0)], preds=[(*B, 0, .8)]),
        det_sample('rec_a', t1, gt=[(*A, 0)], preds=[(*A, 0, .9), (200., 150., 30., 30., 1, .3)]),
        det_sample('rec_b', t1, gt=[(*A, 1)], preds=[(*A, 1, .7)]),
    ]
    res = run_metric(samples)
    assert set(res) == {f'event/{k}' for k in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m',
                                                 'mAP_l', 'num_gt', 'num_dets')}
    # class 0 perfect; class 1: TP .7, TP .6, FP .3 -> 1.0 (the FP ranks after full recall)
    assert res['event/mAP_50'] == pytest.approx(1.0, abs=1e-12)
    assert (res['event/num_gt'], res['event/num_dets']) == (4, 5)
    # the same numbers as the array evaluation on per-recording arrays; with the toolbox's
    # 50 ms tolerance the labels 30 ms apart share their detections (so the recording grouping
    # and time order matter)
    gts = [boxes((t1, *A, 0), (t2, *B, 0)), boxes((t1, *A, 1), (t2, *B, 1))]
    dts = [boxes((t1, *A, 0, .9), (t1, 200., 150., 30., 30., 1, .3), (t2, *B, 0, .8)),
           boxes((t1, *A, 1, .7), (t2, *B, 1, .6))]
    tol = run_metric(samples, time_tol_us=50_000, prefix='p')
    expected = evaluate_prophesee(gts, dts, time_tol_us=50_000).stats
    assert expected['mAP_50'] < 0.9
    for key, value in expected.items():
        assert tol[f'p/{key}'] == value


def test_metric_skips_early_samples_and_unlabelled_times():
    samples = [
        det_sample('r', 300_000, gt=[(*B, 0)], preds=[(200., 150., 30., 30., 0, .99)]),
        det_sample('r', T0, gt=[(*A, 0), (*TINY, 0)], preds=[(*A, 0, .5)]),
        det_sample('r', T0 + 50_000, gt=[], preds=[(*B, 0, .95)]),   # no label: not scored
    ]
    res = run_metric(samples)
    assert res['event/mAP_50'] == pytest.approx(1.0, abs=1e-12)
    assert (res['event/num_gt'], res['event/num_dets']) == (1, 2)


def test_metric_brings_ground_truth_back_to_original_size():
    # gt packed at twice the size (scale_factor 2), predictions at ori_shape
    res = run_metric([det_sample('r', T0, gt=[(*A, 0)], preds=[(*A, 0, .9)], scale=(2., 2.))])
    assert res['event/mAP_75'] == pytest.approx(1.0, abs=1e-12)


def test_metric_classes_from_dataset_meta():
    from mmsdt.evaluation import PropheseeDetMetric
    metric = PropheseeDetMetric()
    metric.process({}, [det_sample('r', T0, gt=[(*A, 0)], preds=[(*A, 0, .9)]).to_dict()])
    with pytest.raises(ValueError, match='no classes'):
        metric.evaluate(1)
    metric.dataset_meta = dict(classes=('car', 'pedestrian'))
    metric.process({}, [det_sample('r', T0, gt=[(*A, 0)], preds=[(*A, 0, .9)]).to_dict()])
    assert metric.evaluate(1)['event/mAP_50'] == pytest.approx(1.0, abs=1e-12)


def test_metric_bad_samples():
    from mmsdt.evaluation import PropheseeDetMetric
    sample = det_sample('r', T0).to_dict()
    del sample['recording']
    with pytest.raises(KeyError, match="'recording'"):
        PropheseeDetMetric(classes=('car',)).process({}, [sample])
    twice = [det_sample('r', T0, gt=[(*A, 0)]), det_sample('r', T0, gt=[(*A, 0)])]
    with pytest.raises(ValueError, match="'r': two samples at timestamp 600000"):
        run_metric(twice)
