"""Classifiers for mmpretrain (stock ``ImageClassifier`` children)."""
from .distill_image_classifier import DistillImageClassifier

__all__ = ['DistillImageClassifier']
