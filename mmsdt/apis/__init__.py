"""High-level calls on top of the stock OpenMMLab Inferencers (mmdet, mmseg, mmpretrain)."""
from .inference import (TensorModeForward, build_inferencer, classify_image, config_time_steps,
                        dataset_batches, dataset_images, inference_image, is_event_config,
                        predict_images, preprocessed_batches, random_event_batch,
                        switch_off_autocast)

__all__ = [
    'inference_image', 'classify_image', 'predict_images', 'build_inferencer',
    'preprocessed_batches', 'dataset_images', 'TensorModeForward', 'switch_off_autocast',
    'is_event_config', 'config_time_steps', 'dataset_batches', 'random_event_batch'
]
