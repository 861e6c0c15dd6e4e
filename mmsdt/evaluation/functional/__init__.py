"""Metric computations on numpy arrays, free of OpenMMLab and torch."""
from .prophesee_eval import (EVAL_BOX_DTYPE, GEN1_CLASSES, STAT_NAMES, PropheseeEvalResult,
                             coco_bbox_stats, evaluate_prophesee, filter_prophesee_boxes,
                             match_timestamps)

__all__ = ['EVAL_BOX_DTYPE', 'GEN1_CLASSES', 'STAT_NAMES', 'PropheseeEvalResult',
           'coco_bbox_stats', 'evaluate_prophesee', 'filter_prophesee_boxes', 'match_timestamps']
