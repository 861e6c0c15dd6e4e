"""Operators written for mmsdt (torch only): :class:`SparseRoIAlign`, RoIAlign with the values
of torchvision's and a fast CPU backward."""
from .sparse_roi_align import SparseRoIAlign, multi_level_roi_align, sparse_roi_align

__all__ = ['SparseRoIAlign', 'multi_level_roi_align', 'sparse_roi_align']
