"""mmengine metrics of mmsdt, registered in ``mmsdt.registry.METRICS``."""
from .prophesee_det_metric import PropheseeDetMetric

__all__ = ['PropheseeDetMetric']
