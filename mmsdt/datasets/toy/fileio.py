"""File plumbing shared by the toy-data writers: argument checks, completion markers,
JSON and image writing with fixed settings (so the same arguments give the same bytes).

Only json, os and cv2 are used.
"""
import json
import os
from typing import Any, Callable, Optional

import cv2
import numpy as np

FORMAT_VERSION = 1
"""Written into every marker; bump it when the rendering changes, so old markers no longer
match and the data are regenerated."""

JPEG_QUALITY = 95
PNG_COMPRESSION = 3

ProgressFn = Callable[[str, int, int], None]
"""``progress(split, done, total)``, called by the writers after each image."""


def check_split_args(num_train: int, num_val: int, seed: int) -> None:
    """Raise ``ValueError`` unless the image counts and the seed are non-negative integers."""
    for name, value in (('num_train', num_train), ('num_val', num_val), ('seed', seed)):
        if int(value) != value or value < 0:
            raise ValueError(f'{name} must be a non-negative integer, got {value!r}')


def read_marker(path: str) -> Optional[Any]:
    """Return the JSON content of a completion marker, or ``None`` if missing or broken."""
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path: str, obj: Any) -> None:
    """Write JSON atomically (temporary file + rename) with a fixed compact layout."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def clear_generated(folder: str, suffix: str) -> None:
    """Remove files named like ours (``NNNNNN<suffix>``) so a smaller rerun leaves no strays.

    Other files in ``folder`` are left alone; a missing folder is fine.
    """
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext == suffix and len(stem) == 6 and stem.isdigit():
            os.remove(os.path.join(folder, name))


def _imwrite(path: str, image: np.ndarray, params: list) -> None:
    if not cv2.imwrite(path, image, params):
        raise OSError(f'could not write {path}')


def write_jpeg(path: str, image: np.ndarray) -> None:
    """Write a BGR image as JPEG with quality :data:`JPEG_QUALITY`; ``OSError`` on failure."""
    _imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])


def write_png(path: str, image: np.ndarray) -> None:
    """Write an image (e.g. a label map) as PNG with compression :data:`PNG_COMPRESSION`;
    ``OSError`` on failure."""
    _imwrite(path, image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
