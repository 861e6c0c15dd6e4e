"""High-level calls on top of the stock OpenMMLab Inferencers."""
from .inference import inference_image

__all__ = ['inference_image']
