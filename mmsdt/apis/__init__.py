"""High-level calls on top of the stock OpenMMLab Inferencers (mmdet, mmseg, mmpretrain)."""
from .inference import build_classifier, classify_image, inference_image, predict_images

__all__ = ['inference_image', 'classify_image', 'build_classifier', 'predict_images']
