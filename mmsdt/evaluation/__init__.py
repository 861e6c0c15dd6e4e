"""Evaluation: the Prophesee detection protocol on numpy arrays (:mod:`.functional`) and as
an mmengine metric (:class:`PropheseeDetMetric`, ``type='mmsdt.PropheseeDetMetric'``)."""
from .functional import evaluate_prophesee, filter_prophesee_boxes
from .metrics import PropheseeDetMetric

__all__ = ['PropheseeDetMetric', 'evaluate_prophesee', 'filter_prophesee_boxes']
