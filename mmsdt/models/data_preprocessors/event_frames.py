"""Checks shared by the event-frame data preprocessors: where a sample comes from, and its
frames' shape against the model's ``T``."""
from typing import Optional, Tuple

# metainfo keys naming a sample's source, in order of preference
SOURCE_KEYS = ('event_file', 'events_path', 'frame_dir', 'img_path', 'recording')


def sample_source(sample, fallback: str = '<sample without events_path>') -> str:
    """The file (and labelled timestamp, for detection) a data sample was made from."""
    meta = getattr(sample, 'metainfo', {}) if sample is not None else {}
    for key in SOURCE_KEYS:
        if meta.get(key) is not None:
            where = str(meta[key])
            if meta.get('timestamp') is not None:
                where += f' at {meta["timestamp"]} us'
            return where
    return fallback


def check_frames(shape: Tuple[int, ...], source: str, num_frames: Optional[int],
                 prefix: str = '') -> None:
    """Raise ``ValueError`` naming ``source`` unless ``shape`` is ``(T, C, H, W)`` with
    ``T == num_frames`` (when given)."""
    if len(shape) != 4:
        raise ValueError(f'{prefix}{source}: expected frames (T, C, H, W), got shape '
                         f'{shape}')
    if num_frames is not None and shape[0] != num_frames:
        raise ValueError(f'{prefix}{source}: the data has T = {shape[0]} frames but the model '
                         f'is configured for num_frames = {num_frames}')
