"""The Prophesee automotive detection protocol on box arrays: :func:`evaluate_prophesee`.

The protocol is the one the public Prophesee automotive-dataset toolbox (Apache-2.0) defines
for Gen1 and 1Mpx, written here from its description:

1. **Filtering** (:func:`filter_prophesee_boxes`, on ground truth *and* detections): a box is
   kept when its time is strictly after ``skip_ts_us`` (0.5 s; a recording starts at time 0),
   ``w ** 2 + h ** 2 >= min_box_diag ** 2``, ``w >= min_box_side`` and ``h >= min_box_side``
   (Gen1: 30 / 10 px; 1Mpx: 60 / 20 px at 1280x720, i.e. 30 / 10 px when evaluated at the
   halved 640x360 size). The arithmetic runs in the arrays' own dtype.
2. **Time matching** (:func:`match_timestamps`, per recording): every distinct ground-truth
   time left after filtering is one COCO image holding the ground truth of exactly that time
   and every detection whose time lies in ``[t - time_tol_us, t + time_tol_us]`` (50 ms; a
   detection near two labelled times counts in both). Detections far from any labelled time,
   and labelled times whose boxes were all filtered out, take no part.
3. **COCO evaluation** (pycocotools, ``iouType='bbox'``, default parameters: IoU 0.50:0.95,
   maxDets 1 / 10 / 100, COCO area ranges): images numbered from 1 in recording order then time
   order; category id = ``class_id + 1`` for ``class_id < len(classes)`` (other class ids are
   ignored by COCOeval, as in the toolbox: 1Mpx has 7 classes of which 3 are evaluated);
   ``bbox = [x, y, w, h]``, ground-truth ``area = w * h``, ``iscrowd`` false; the detection
   score is the ``class_confidence`` (or ``confidence``) field.

Differences from the toolbox, all where it gives no number: with no detection at all the
average precisions are computed on an empty result set (0 where ground truth exists, -1 where
none does; the toolbox fails inside pycocotools), and bad input raises a ``ValueError`` naming
the recording instead of an ``assert``.
"""
import contextlib
import io
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Box layout used for evaluation: the toolbox's field names (``t``, ``class_confidence``).
#: Inputs may also name the time ``ts`` and the score ``confidence`` (the released files).
EVAL_BOX_DTYPE = np.dtype([('t', '<i8'), ('x', '<f4'), ('y', '<f4'), ('w', '<f4'),
                           ('h', '<f4'), ('class_id', '<u4'), ('class_confidence', '<f4')])

#: Names of the COCO summary entries returned, in pycocotools' ``stats`` order.
STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')

GEN1_CLASSES = ('car', 'pedestrian')


def _field(boxes: np.ndarray, names: Sequence[str], what: str, where: str) -> np.ndarray:
    """The first of ``names`` present in the structured array ``boxes``."""
    fields = boxes.dtype.names or ()
    for name in names:
        if name in fields:
            return boxes[name]
    raise ValueError(f'{where}: {what} array has no field {" or ".join(map(repr, names))} '
                     f'(fields: {fields})')


def box_times(boxes: np.ndarray, where: str = 'boxes') -> np.ndarray:
    """The time field (``t`` or ``ts``, microseconds) of a structured box array."""
    return _field(boxes, ('t', 'ts'), 'box', where)


def box_scores(boxes: np.ndarray, where: str = 'detections') -> np.ndarray:
    """The score field (``class_confidence`` or ``confidence``) of a detection array."""
    return _field(boxes, ('class_confidence', 'confidence'), 'detection', where)


def filter_prophesee_boxes(boxes: np.ndarray, skip_ts_us: int = 500_000,
                           min_box_diag: float = 30, min_box_side: float = 10) -> np.ndarray:
    """Keep the boxes the protocol evaluates (step 1 of the module docstring).

    Args:
        boxes (np.ndarray): structured array with a time field (``t`` or ``ts``) and ``w``,
            ``h``.
        skip_ts_us (int): boxes at or before this time (µs from the recording start) go.
        min_box_diag (float): boxes whose diagonal is under this go.
        min_box_side (float): boxes with a side under this go.

    Returns:
        np.ndarray: the kept rows, in their order.
    """
    t = box_times(boxes)
    w, h = boxes['w'], boxes['h']
    keep = ((t > skip_ts_us) & (w ** 2 + h ** 2 >= min_box_diag ** 2)
            & (w >= min_box_side) & (h >= min_box_side))
    return boxes[keep]


def match_timestamps(gt_boxes: np.ndarray, dt_boxes: np.ndarray,
                     time_tol_us: int = 50_000) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Split one recording's boxes into COCO images (step 2 of the module docstring).

    Both arrays are sorted by time. Returns one ground-truth array and one detection array per
    distinct ground-truth time, in time order.
    """
    # signed times, so that ``t - time_tol_us`` cannot wrap around for unsigned fields
    t_gt, t_dt = (t.astype(np.int64 if t.dtype.kind in 'ui' else np.float64)
                  for t in (box_times(gt_boxes), box_times(dt_boxes)))
    times = np.unique(t_gt)
    gt_lo = np.searchsorted(t_gt, times, side='left')
    gt_hi = np.searchsorted(t_gt, times, side='right')
    dt_lo = np.searchsorted(t_dt, times - time_tol_us, side='left')
    dt_hi = np.searchsorted(t_dt, times + time_tol_us, side='right')
    gts = [gt_boxes[a:b] for a, b in zip(gt_lo, gt_hi)]
    dts = [dt_boxes[a:b] for a, b in zip(dt_lo, dt_hi)]
    return gts, dts


@dataclass(frozen=True)
class PropheseeEvalResult:
    """What :func:`evaluate_prophesee` measured.

    Attributes:
        stats (dict): ``mAP`` (IoU 0.50:0.95), ``mAP_50``, ``mAP_75``, ``mAP_s``, ``mAP_m``,
            ``mAP_l`` as pycocotools computes them (-1 where no ground truth of that kind).
        num_gt (int): ground-truth boxes kept by the filter.
        num_dets (int): detections kept by the filter.
        num_images (int): labelled times evaluated (COCO images).
        num_dets_matched (int): detections placed in images by the time matching, counted
            once per image they fall in.
        summary (str): pycocotools' printed summary.
    """
    stats: Dict[str, float]
    num_gt: int
    num_dets: int
    num_images: int
    num_dets_matched: int
    summary: str = field(repr=False, default='')


def _check_recording(gt: np.ndarray, dt: np.ndarray, where: str) -> None:
    for boxes, what in ((gt, 'ground-truth'), (dt, 'detection')):
        if not isinstance(boxes, np.ndarray) or boxes.dtype.names is None or boxes.ndim != 1:
            raise ValueError(f'{where}: the {what} boxes must be a 1-D structured numpy array, '
                             f'got {type(boxes).__name__}'
                             f'{getattr(boxes, "shape", "")}')
        for name in ('x', 'y', 'w', 'h', 'class_id'):
            if name not in boxes.dtype.names:
                raise ValueError(f'{where}: the {what} boxes have no field {name!r} '
                                 f'(fields: {boxes.dtype.names})')
        t = box_times(boxes, where)
        if np.any(t[1:] < t[:-1]):
            first = int(np.argmax(t[1:] < t[:-1])) + 1
            raise ValueError(f'{where}: the {what} boxes are not sorted by time '
                             f'(row {first}: {t[first]} after {t[first - 1]})')
        if np.any(boxes['class_id'] < 0):
            raise ValueError(f'{where}: the {what} boxes have a negative class_id')
    box_scores(dt, where)


def _to_coco(gts: List[np.ndarray], dts: List[np.ndarray], classes: Sequence[str],
             height: int, width: int):
    """COCO ground-truth dataset and result list, one image per (gt, dt) pair."""
    images, annotations, results = [], [], []
    for image_id, (gt, dt) in enumerate(zip(gts, dts), start=1):
        images.append(dict(id=image_id, height=height, width=width, file_name='n.a'))
        # numpy scalars of the arrays' dtype, so every product pycocotools forms (result
        # areas) is the one the toolbox forms on the same arrays
        for x, y, w, h, c in zip(gt['x'], gt['y'], gt['w'], gt['h'], gt['class_id']):
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                    category_id=int(c) + 1, bbox=[x, y, w, h],
                                    area=float(w * h), iscrowd=False))
        for x, y, w, h, c, s in zip(dt['x'], dt['y'], dt['w'], dt['h'], dt['class_id'],
                                    box_scores(dt)):
            results.append(dict(image_id=image_id, category_id=int(c) + 1,
                                bbox=[x, y, w, h], score=float(s)))
    categories = [dict(id=i + 1, name=name, supercategory='none')
                  for i, name in enumerate(classes)]
    dataset = dict(info={}, licenses=[], type='instances', images=images,
                   annotations=annotations, categories=categories)
    return dataset, results


def coco_bbox_stats(gts: List[np.ndarray], dts: List[np.ndarray], classes: Sequence[str],
                    height: int, width: int) -> Tuple[Dict[str, float], str]:
    """pycocotools bbox AP over images given as (ground truth, detections) array pairs.

    Returns the :data:`STAT_NAMES` entries and pycocotools' printed summary.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dataset, results = _to_coco(gts, dts, classes, height, width)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        if results:
            coco_dt = coco_gt.loadRes(results)
        else:  # what loadRes would build from no result (it indexes the first result)
            coco_dt = COCO()
            coco_dt.dataset = dict(images=list(dataset['images']), annotations=[],
                                   categories=list(dataset['categories']))
            coco_dt.createIndex()
        coco_eval = COCOeval(coco_gt, coco_dt, 'bbox')
        coco_eval.params.imgIds = np.arange(1, len(gts) + 1, dtype=int)
        coco_eval.evaluate()
        coco_eval.accumulate()
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.summarize()
    stats = {name: float(coco_eval.stats[i]) for i, name in enumerate(STAT_NAMES)}
    return stats, summary.getvalue()


def evaluate_prophesee(gt_boxes_list: Sequence[np.ndarray],
                       dt_boxes_list: Sequence[np.ndarray],
                       classes: Sequence[str] = GEN1_CLASSES,
                       height: int = 240,
                       width: int = 304,
                       skip_ts_us: int = 500_000,
                       min_box_diag: float = 30,
                       min_box_side: float = 10,
                       time_tol_us: int = 50_000,
                       apply_filters: bool = True,
                       names: Optional[Sequence[str]] = None) -> PropheseeEvalResult:
    """Evaluate detections with the Prophesee protocol (see the module docstring).

    Args:
        gt_boxes_list (sequence of np.ndarray): one structured array per recording with fields
            ``t`` (or ``ts``, µs), ``x``, ``y``, ``w``, ``h`` (top-left corner and size, px)
            and ``class_id``, sorted by time.
        dt_boxes_list (sequence of np.ndarray): the detections of the same recordings, same
            fields plus ``class_confidence`` (or ``confidence``), sorted by time.
        classes (sequence of str): evaluated class names; class id ``i`` is ``classes[i]``.
        height, width (int): image size written into the COCO images (informative only).
        skip_ts_us, min_box_diag, min_box_side: the filter (:func:`filter_prophesee_boxes`).
        time_tol_us (int): half-width of the detection time window around a labelled time.
            ``0`` scores each detection only at its own time (RVT's per-sample evaluation,
            when every detection carries the time of its labelled sample).
        apply_filters (bool): apply the filter to both ground truth and detections.
        names (sequence of str, optional): recording names for error messages.

    Returns:
        PropheseeEvalResult: the COCO stats and the box counts.
    """
    gt_boxes_list, dt_boxes_list = list(gt_boxes_list), list(dt_boxes_list)
    if len(gt_boxes_list) != len(dt_boxes_list):
        raise ValueError(f'{len(gt_boxes_list)} ground-truth recordings but '
                         f'{len(dt_boxes_list)} detection recordings')
    if names is None:
        names = [f'recording {i}' for i in range(len(gt_boxes_list))]
    if len(names) != len(gt_boxes_list):
        raise ValueError(f'{len(names)} names for {len(gt_boxes_list)} recordings')
    if not classes:
        raise ValueError('classes is empty')
    if time_tol_us < 0:
        raise ValueError(f'time_tol_us must be >= 0, got {time_tol_us}')

    gts, dts = [], []
    num_gt = num_dets = 0
    for gt, dt, name in zip(gt_boxes_list, dt_boxes_list, names):
        _check_recording(gt, dt, str(name))
        if apply_filters:
            gt = filter_prophesee_boxes(gt, skip_ts_us, min_box_diag, min_box_side)
            dt = filter_prophesee_boxes(dt, skip_ts_us, min_box_diag, min_box_side)
        num_gt += len(gt)
        num_dets += len(dt)
        gt_win, dt_win = match_timestamps(gt, dt, time_tol_us)
        gts.extend(gt_win)
        dts.extend(dt_win)
    stats, summary = coco_bbox_stats(gts, dts, classes, height, width)
    return PropheseeEvalResult(stats=stats, num_gt=num_gt, num_dets=num_dets,
                               num_images=len(gts),
                               num_dets_matched=sum(len(d) for d in dts), summary=summary)
