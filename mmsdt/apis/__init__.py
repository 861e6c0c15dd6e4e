"""High-level calls on top of the stock OpenMMLab Inferencers (mmdet, mmseg, mmpretrain)."""
from .inference import (TensorModeForward, build_inferencer, classify_image, dataset_images,
                        inference_image, predict_images, preprocessed_batches,
                        switch_off_autocast)

__all__ = [
    'inference_image', 'classify_image', 'predict_images', 'build_inferencer',
    'preprocessed_batches', 'dataset_images', 'TensorModeForward', 'switch_off_autocast'
]
