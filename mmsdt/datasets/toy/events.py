"""The toy event-camera set: moving textured shapes whose class is their **motion**.

Eight classes (:data:`TOY_DVS_CLASSES`): translation in four directions (``move_left``,
``move_right``, ``move_up``, ``move_down``), rotation (``rotate_cw``, ``rotate_ccw``, as seen
on the screen, y pointing down) and scaling (``expand``, ``contract``). Shape (ellipse,
rectangle, triangle, pentagon, hexagon), size, aspect, orientation, texture (stripes, checker,
dots; period and angle), brightness, background and speed are drawn per recording, so the
shape alone does not tell the class.

Each recording is a greyscale video of :data:`NUM_FRAMES` frames rendered analytically (soft
1-pixel edges, no supersampling) and turned into events by the DVS emulator
(:class:`mmsdt.datasets.events.emulator.DVSEmulator`: threshold 0.2 with mismatch 0.03,
refractory 0.5 ms, 1 Hz shot noise). The object is always lighter than the background
everywhere (its darkest texture is above the background's brightest value), so the leading
edge of a motion gives ON events and the trailing edge OFF events within every time bin. With
a random contrast sign a light object moving right and a dark one moving left would give the
same events in one bin, which a model that treats the T bins independently (the stateless
neuron) cannot tell apart.

The set is written in the N-MNIST release layout, ``root/{Train,Test}/<class>/NNNNNN.bin``
(ATIS ``.bin`` through :func:`mmsdt.datasets.events.io.write_events`), so it is read back by
the same reader and data set class as real N-MNIST data (with the toy classes and the
``size x size`` sensor in the metainfo). ``Test`` is the toy val split. Every recording comes
from its own generator (:func:`~.scene.image_rng` with the sample index), so the same
arguments give byte-identical files.
"""
import os
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np

from ..events.emulator import DVSEmulator
from ..events.io import write_events
from .fileio import FORMAT_VERSION, ProgressFn, check_split_args, read_marker, write_json
from .scene import image_rng

TOY_DVS_CLASSES: Tuple[str, ...] = ('contract', 'expand', 'move_down', 'move_left',
                                    'move_right', 'move_up', 'rotate_ccw', 'rotate_cw')
"""Class names = folder names, in sorted order."""

TOY_DVS_SPLITS = {'train': 'Train', 'val': 'Test'}
"""Toy split -> folder of the N-MNIST layout."""

SHAPES = ('ellipse', 'rectangle', 'triangle', 'pentagon', 'hexagon')
TEXTURES = ('stripes', 'checker', 'dots')

FRAME_US = 2400
"""Time between rendered frames (µs): the default 40 frames span 94 ms."""

NUM_FRAMES = 40
"""Frames rendered per recording (the object moves at most ~0.7 px per frame)."""

EMULATOR = dict(pos_threshold=0.2, neg_threshold=0.2, threshold_sigma=0.03, refractory_us=500,
                shot_noise_hz=1.0)
"""The emulator settings of the toy set (reference dvs.md section 9.4)."""

_DIRECTIONS = dict(move_left=(-1, 0), move_right=(1, 0), move_up=(0, -1), move_down=(0, 1))


def _outline(rng: np.random.Generator, kind: str) -> Optional[np.ndarray]:
    """Unit-size convex outline of ``kind``: ``(N, 2)`` vertices in angular order, (x, y)
    (y down), or ``None`` for the ellipse."""
    if kind == 'ellipse':
        return None
    if kind == 'rectangle':
        aspect = rng.uniform(0.45, 0.8)
        return np.array([[-1, -aspect], [-1, aspect], [1, aspect], [1, -aspect]], np.float64)
    sides = dict(triangle=3, pentagon=5, hexagon=6)[kind]
    angles = np.arange(sides) * 2 * np.pi / sides + rng.uniform(-0.25, 0.25, sides) * np.pi / sides
    return np.stack([np.cos(angles), -np.sin(angles)], 1)


def _signed_distance(kind: str, outline: Optional[np.ndarray], aspect: float, u: np.ndarray,
                     v: np.ndarray) -> np.ndarray:
    """Approximate signed distance (unit-size object coordinates, negative inside)."""
    if outline is None:  # ellipse with axes 1 and ``aspect``
        radius = np.sqrt(u ** 2 + (v / aspect) ** 2)
        return (radius - 1) * aspect
    dist = np.full(u.shape, -np.inf, u.dtype)
    for a, b in zip(outline, np.roll(outline, -1, axis=0)):
        edge = b - a
        normal = np.array([edge[1], -edge[0]]) / np.hypot(*edge)  # outward for this order
        if normal @ (a - outline.mean(0)) < 0:
            normal = -normal
        dist = np.maximum(dist, (u - a[0]) * normal[0] + (v - a[1]) * normal[1])
    return dist


def _texture(rng: np.random.Generator, kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """A smooth 0-1 pattern in object coordinates (it moves, turns and scales with the
    object)."""
    period = rng.uniform(0.35, 0.6)
    angle = rng.uniform(0, np.pi)
    a = (u * np.cos(angle) + v * np.sin(angle)) * 2 * np.pi / period + rng.uniform(0, 2 * np.pi)
    b = (-u * np.sin(angle) + v * np.cos(angle)) * 2 * np.pi / period + rng.uniform(0, 2 * np.pi)
    if kind == 'stripes':
        wave = np.sin(a)
    elif kind == 'checker':
        wave = np.sin(a) * np.sin(b) * 2
    else:
        wave = (np.sin(a) + np.sin(b)) - 0.5
    return 0.5 + 0.5 * np.tanh(3 * wave)


def _background(rng: np.random.Generator, size: int, mean: float) -> np.ndarray:
    """A static smooth background: a random 5x5 grid (x0.75-1.25 of ``mean``) resized
    bicubically to ``size x size``."""
    grid = rng.uniform(0.75, 1.25, (5, 5)).astype(np.float32)
    smooth = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return mean * np.clip(smooth, 0.75, 1.25).astype(np.float64)


def _trajectory(rng: np.random.Generator, label: str, size: int, tau: np.ndarray) -> tuple:
    """Centre ``(K, 2)``, angle ``(K,)`` and scale ``(K,)`` of the object over the clip
    (``tau`` runs 0 -> 1), and its mid-clip radius in pixels."""
    radius = size * rng.uniform(0.16, 0.23)
    centre = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
    angle = np.full(tau.shape, rng.uniform(0, 2 * np.pi))
    scale = np.ones_like(tau)
    centres = np.repeat(centre[None], tau.size, axis=0)
    if label in _DIRECTIONS:
        direction = np.array(_DIRECTIONS[label], np.float64)
        distance = size * rng.uniform(0.35, 0.5)
        centres = centres + direction * distance * (tau[:, None] - 0.5)
    elif label in ('rotate_cw', 'rotate_ccw'):
        turn = rng.uniform(0.5, 0.9) * np.pi  # y points down: a growing angle turns clockwise
        angle = angle + (turn if label == 'rotate_cw' else -turn) * tau
    else:
        growth = np.log(rng.uniform(1.8, 2.5))
        scale = np.exp((growth if label == 'expand' else -growth) * (tau - 0.5))
    return centres, angle, scale, radius


def render_motion_video(rng: np.random.Generator, label: str, size: int = 64,
                        num_frames: int = NUM_FRAMES) -> Tuple[np.ndarray, np.ndarray, dict]:
    """Render the greyscale video of one recording of class ``label``.

    A point ``q`` of the object (object units) is at ``c + r * s * R(a) q`` in frame k
    (pixels, y down; ``R(a)`` the rotation matrix, so a growing angle ``a`` turns clockwise on
    the screen), with ``c``, ``a``, ``s`` of ``motion`` and ``r`` its ``radius``.

    Args:
        rng (numpy.random.Generator): the recording's generator.
        label (str): one of :data:`TOY_DVS_CLASSES`.
        size (int): frame side in pixels.
        num_frames (int): frames rendered, :data:`FRAME_US` apart.

    Returns:
        tuple: ``frames`` float64 ``(num_frames, size, size)`` intensities in 0-255,
        ``times_us`` int64 ``(num_frames,)`` and ``motion``: ``shape``, ``texture``,
        ``centres`` ``(num_frames, 2)`` (x, y), ``angles``, ``scales`` ``(num_frames,)`` and
        ``radius`` (pixels at scale 1).
    """
    if label not in TOY_DVS_CLASSES:
        raise ValueError(f'unknown toy dvs class {label!r}; classes: {TOY_DVS_CLASSES}')
    kind = SHAPES[int(rng.integers(len(SHAPES)))]
    outline = _outline(rng, kind)
    aspect = rng.uniform(0.5, 0.85)
    texture = TEXTURES[int(rng.integers(len(TEXTURES)))]
    bg_mean = rng.uniform(20, 45)
    obj_level = bg_mean * rng.uniform(3.0, 5.0)
    depth = rng.uniform(0.3, 0.55)  # darkest texture 0.45 x 3 = 1.35 x bg_mean > bg maximum
    background = _background(rng, size, bg_mean)
    tau = np.linspace(0.0, 1.0, num_frames)
    centres, angle, scale, radius = _trajectory(rng, label, size, tau)

    pix = np.arange(size, dtype=np.float64) + 0.5
    dx = pix[None, None, :] - centres[:, 0, None, None]
    dy = pix[None, :, None] - centres[:, 1, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    unit = (radius * scale)[:, None, None]  # pixels per object unit
    # rotate the pixel back by the object's angle (float32: the rendering's bulk)
    u = ((cos * dx + sin * dy) / unit).astype(np.float32)
    v = ((-sin * dx + cos * dy) / unit).astype(np.float32)
    inside = np.clip(0.5 - _signed_distance(kind, outline, aspect, u, v) * unit.astype(
        np.float32), 0.0, 1.0)
    obj = obj_level * (1 - depth * _texture(rng, texture, u, v))
    frames = background[None] * (1 - inside) + obj * inside
    times = np.arange(num_frames, dtype=np.int64) * FRAME_US
    motion = dict(shape=kind, texture=texture, centres=centres, angles=angle, scales=scale,
                  radius=radius)
    return frames, times, motion


def toy_dvs_events(rng: np.random.Generator, label: str, size: int = 64,
                   num_frames: int = NUM_FRAMES) -> np.ndarray:
    """The events of one recording of class ``label`` (:func:`render_motion_video` then the
    emulator with :data:`EMULATOR`, both drawing from ``rng``)."""
    frames, times, _ = render_motion_video(rng, label, size, num_frames)
    return DVSEmulator(**EMULATOR).emulate(frames, times, rng)


def generate_toy_dvs(root: str, num_train: int = 150, num_val: int = 25, seed: int = 0,
                     size: int = 64, force: bool = False,
                     progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Write (or reuse) the toy event set under ``root`` in the N-MNIST layout.

    Layout: ``root/Train/<class>/NNNNNN.bin`` (``num_train`` per class) and
    ``root/Test/<class>/NNNNNN.bin`` (``num_val`` per class; the toy val split), ATIS ``.bin``
    files of a ``size x size`` sensor. If ``root/.complete_dvs`` holds the same arguments
    nothing is written (unless ``force``); the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Training recordings per class.
        num_val (int): Validation recordings per class.
        seed (int): Non-negative seed; the same arguments give identical files.
        size (int): Sensor side in pixels (32-255; the ATIS format holds 8-bit x and y).
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): ``progress(split, done, total)`` after each recording.

    Returns:
        dict: ``root``, ``format`` ('nmnist'), ``generated`` (False when reused), ``classes``,
        ``sensor_size`` (W, H) and ``splits``: per split ``folder``, ``recordings``,
        ``recordings_per_class`` and ``events`` (total written; 0 when reused).

    Raises:
        ValueError: a count or the seed is negative or not an integer, or ``size`` is out of
            range.
        OSError: a reused set misses a recording.
    """
    check_split_args(num_train, num_val, seed)
    if not 32 <= size <= 255:
        raise ValueError(f'size must be in 32-255 (8-bit ATIS coordinates), got {size}')
    args = dict(generator='toy_dvs', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), size=int(size), frames=NUM_FRAMES,
                frame_us=FRAME_US, emulator=EMULATOR)
    marker = os.path.join(root, '.complete_dvs')
    counts = dict(train=int(num_train), val=int(num_val))
    reuse = not force and read_marker(marker) == args
    if not reuse and os.path.exists(marker):
        os.remove(marker)

    splits = {}
    for split, folder_name in TOY_DVS_SPLITS.items():
        per_class = counts[split]
        total, done, events_written = per_class * len(TOY_DVS_CLASSES), 0, 0
        for label_id, label in enumerate(TOY_DVS_CLASSES):
            folder = os.path.join(root, folder_name, label)
            names = [f'{i:06d}.bin' for i in range(per_class)]
            if reuse:
                missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
                if missing:
                    raise OSError(f'missing recording {os.path.join(folder, missing[0])}')
                continue
            os.makedirs(folder, exist_ok=True)
            for name in os.listdir(folder):  # strays of a larger earlier run
                if name.endswith('.bin') and name not in names:
                    os.remove(os.path.join(folder, name))
            for i, name in enumerate(names):
                rng = image_rng(seed, 'dvs', split, label_id * 1_000_000 + i)
                events = toy_dvs_events(rng, label, size)
                write_events(os.path.join(folder, name), events, (size, size))
                events_written += events.size
                done += 1
                if progress is not None:
                    progress(split, done, total)
        splits[split] = dict(folder=folder_name, recordings=total,
                             recordings_per_class={c: per_class for c in TOY_DVS_CLASSES},
                             events=events_written)

    if not reuse:
        write_json(marker, args)
    return dict(root=os.path.abspath(root), format='nmnist', generated=not reuse,
                classes=list(TOY_DVS_CLASSES), sensor_size=(size, size), splits=splits)
