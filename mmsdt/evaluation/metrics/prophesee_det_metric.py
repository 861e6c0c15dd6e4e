"""The Prophesee automotive detection protocol as an mmengine metric:
:class:`PropheseeDetMetric`."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmsdt.registry import METRICS

from ..functional.prophesee_eval import EVAL_BOX_DTYPE, evaluate_prophesee


def _numpy(value) -> np.ndarray:
    """A tensor, box structure (``.tensor``) or array as a numpy array."""
    value = getattr(value, 'tensor', value)
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _boxes(bboxes, labels, scores, timestamp: int, where: str) -> np.ndarray:
    """xyxy boxes as an :data:`EVAL_BOX_DTYPE` array at one time (the toolbox's x, y, w, h)."""
    bboxes = _numpy(bboxes).astype(np.float32, copy=False).reshape(-1, 4)
    labels = _numpy(labels).reshape(-1)
    if len(labels) != len(bboxes):
        raise ValueError(f'{where}: {len(bboxes)} boxes but {len(labels)} labels')
    boxes = np.zeros(len(bboxes), EVAL_BOX_DTYPE)
    boxes['t'] = timestamp
    boxes['x'], boxes['y'] = bboxes[:, 0], bboxes[:, 1]
    boxes['w'], boxes['h'] = bboxes[:, 2] - bboxes[:, 0], bboxes[:, 3] - bboxes[:, 1]
    if np.any(labels < 0):
        raise ValueError(f'{where}: negative label in {labels.tolist()}')
    boxes['class_id'] = labels
    if scores is not None:
        scores = _numpy(scores).reshape(-1)
        if len(scores) != len(bboxes):
            raise ValueError(f'{where}: {len(bboxes)} boxes but {len(scores)} scores')
        boxes['class_confidence'] = scores
    return boxes


@METRICS.register_module()
class PropheseeDetMetric(BaseMetric):
    """Detection mAP with the Prophesee automotive protocol (Gen1 / 1Mpx).

    The protocol (:mod:`mmsdt.evaluation.functional.prophesee_eval`): ground truth and
    detections at or before ``skip_ts_us`` of a recording, or with a diagonal under
    ``min_box_diag`` or a side under ``min_box_side``, are removed; each labelled time left is a
    COCO image holding its ground truth and the detections of the same recording within
    ``time_tol_us`` (0 by default: the sample's own); pycocotools computes the bbox AP.

    Each data sample (an mmdet ``DetDataSample`` or its ``to_dict()``) gives:

    * metainfo ``recording`` (name) and ``timestamp`` (µs from the recording start, the time of
      its labels; its detections get this time too);
    * ``pred_instances`` with ``bboxes`` (xyxy, in ``ori_shape`` coordinates), ``scores`` and
      ``labels`` (0-based class ids);
    * ``gt_instances`` with ``bboxes`` (xyxy, ``img_shape`` coordinates, brought back to
      ``ori_shape`` by the metainfo ``scale_factor`` when present) and ``labels``.

    A sample whose ground truth is empty (or filtered out entirely) is no image: its
    detections are not scored (with ``time_tol_us > 0``: only where they fall within it of
    another labelled time of the recording). Boxes are evaluated in ``ori_shape`` coordinates,
    so the size thresholds apply at that size: Gen1 30 / 10 px; 1Mpx 60 / 20 px at 1280x720, or
    30 / 10 px when the dataset halves it to 640x360 (as RVT evaluates it).

    Args:
        classes (sequence of str, optional): evaluated class names, class id ``i`` is
            ``classes[i]``; labels ``>= len(classes)`` are not evaluated (1Mpx: the first 3 of
            7). Default: ``dataset_meta['classes']``.
        height, width (int, optional): image size written into the COCO images (informative);
            default: the first sample's ``ori_shape``.
        skip_ts_us (int): time (µs) up to which labels and detections are skipped. Default 0.5 s.
        min_box_diag (float): minimum box diagonal (px). Default 30 (Gen1).
        min_box_side (float): minimum box side (px). Default 10 (Gen1).
        time_tol_us (int): detection time window around a labelled time (µs). Default 0: a
            sample's detections are scored at its own timestamp only, which is how RVT runs the
            toolbox code on per-sample detections. ``50000`` is the toolbox's
            ``evaluate_detection`` default for per-recording detection files; with it, the
            detections of a sample also count (mostly as false positives) at every other
            labelled time of the recording within 50 ms, i.e. at both neighbours of labels at
            20 Hz (Gen1, the toy).
        apply_filters (bool): apply the time and size filter. Default True.
        collect_device (str): ``'cpu'`` or ``'gpu'`` for collecting results across ranks.
        prefix (str, optional): key prefix. Default ``'event'``.

    Returns from :meth:`compute_metrics`: ``mAP`` (IoU 0.50:0.95), ``mAP_50``, ``mAP_75``,
    ``mAP_s``, ``mAP_m``, ``mAP_l`` (pycocotools' values, -1 where no ground truth of that
    kind) and ``num_gt`` / ``num_dets``, the boxes kept by the filter.
    """

    default_prefix: Optional[str] = 'event'

    def __init__(self,
                 classes: Optional[Sequence[str]] = None,
                 height: Optional[int] = None,
                 width: Optional[int] = None,
                 skip_ts_us: int = 500_000,
                 min_box_diag: float = 30,
                 min_box_side: float = 10,
                 time_tol_us: int = 0,
                 apply_filters: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if classes is not None and (isinstance(classes, str) or not len(classes)):
            raise ValueError(f'classes must be a non-empty sequence of names, got {classes!r}')
        if time_tol_us < 0:
            raise ValueError(f'time_tol_us must be >= 0, got {time_tol_us}')
        self.classes = tuple(classes) if classes is not None else None
        self.height, self.width = height, width
        self.skip_ts_us = skip_ts_us
        self.min_box_diag, self.min_box_side = min_box_diag, min_box_side
        self.time_tol_us = time_tol_us
        self.apply_filters = apply_filters

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep each sample's recording, timestamp, ground truth and detections."""
        for sample in data_samples:
            if hasattr(sample, 'to_dict'):
                sample = sample.to_dict()
            for key in ('recording', 'timestamp', 'pred_instances', 'gt_instances'):
                if key not in sample:
                    raise KeyError(f'PropheseeDetMetric: a data sample has no {key!r} (keys: '
                                   f'{sorted(sample)}); the pipeline packs recording and '
                                   f'timestamp into the metainfo and gt_instances')
            recording, timestamp = str(sample['recording']), sample['timestamp']
            if int(timestamp) != timestamp:
                raise ValueError(f'recording {recording!r}: timestamp {timestamp!r} is not a '
                                 f'whole number of microseconds')
            timestamp = int(timestamp)
            where = f'recording {recording!r} at {timestamp} us'
            pred, gt = sample['pred_instances'], sample['gt_instances']
            dt = _boxes(pred['bboxes'], pred['labels'], pred['scores'], timestamp,
                        f'{where}: pred_instances')
            gt_bboxes = _numpy(gt['bboxes']).astype(np.float64).reshape(-1, 4)
            if sample.get('scale_factor') is not None:
                gt_bboxes = gt_bboxes / np.tile(np.asarray(sample['scale_factor'], float), 2)
            gt = _boxes(gt_bboxes, gt['labels'], None, timestamp, f'{where}: gt_instances')
            self.results.append(dict(recording=recording, timestamp=timestamp, gt=gt, dt=dt,
                                     ori_shape=tuple(sample.get('ori_shape', ()))))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Group the samples by recording, in time order, and evaluate them."""
        logger = MMLogger.get_current_instance()
        classes = self.classes or tuple((self.dataset_meta or {}).get('classes') or ())
        if not classes:
            raise ValueError('PropheseeDetMetric: no classes (give classes=... or a dataset '
                             "with metainfo['classes'])")
        shape = next((r['ori_shape'] for r in results if len(r['ori_shape']) >= 2), (0, 0))
        height = self.height if self.height is not None else int(shape[0])
        width = self.width if self.width is not None else int(shape[1])

        by_recording = defaultdict(dict)
        for r in results:
            samples = by_recording[r['recording']]
            if r['timestamp'] in samples:
                raise ValueError(f"recording {r['recording']!r}: two samples at timestamp "
                                 f"{r['timestamp']} us (is the evaluation set repeated?)")
            samples[r['timestamp']] = r
        names = sorted(by_recording)
        gts, dts = [], []
        for name in names:
            samples = [by_recording[name][t] for t in sorted(by_recording[name])]
            gts.append(np.concatenate([s['gt'] for s in samples]))
            dts.append(np.concatenate([s['dt'] for s in samples]))

        result = evaluate_prophesee(
            gts, dts, classes=classes, height=height, width=width, skip_ts_us=self.skip_ts_us,
            min_box_diag=self.min_box_diag, min_box_side=self.min_box_side,
            time_tol_us=self.time_tol_us, apply_filters=self.apply_filters, names=names)
        logger.info(f'Prophesee protocol on {len(names)} recordings, {len(results)} samples: '
                    f'{result.num_gt} ground-truth boxes and {result.num_dets} detections kept '
                    f'by the filter, {result.num_images} labelled times evaluated, '
                    f'{result.num_dets_matched} detections matched to them\n{result.summary}')
        return dict(result.stats, num_gt=result.num_gt, num_dets=result.num_dets)
