"""The toy event-camera detection set: moving cars and pedestrians in the Gen1 layout.

Each recording is a :data:`DURATION_US` greyscale video of a static smooth background and
3-4 moving objects of the classes :data:`TOY_EVENT_DET_CLASSES` (class ids as in Gen1):

* ``car``: a rectangle, :data:`SIZES` ``car`` wide by high (pixels);
* ``pedestrian``: a tall ellipse.

Every object carries a stripe texture that moves with it (so edges parallel to the motion
and the inside give events too) and is lighter than the background everywhere. Objects move
in straight lines at a constant speed of :data:`SPEED_PX_S` and bounce off the sensor
borders, so they never stop (an object that stands still makes no events) and always lie
fully inside the sensor. They have a random depth order: a nearer object is drawn over a
farther one. A scene in which some object shows less than :data:`MIN_VISIBLE` of its area at
a label time is drawn again (from the same generator), so every labelled object shows events.

The frames are rendered analytically every :data:`FRAME_US` (soft 1-pixel edges) and turned
into events by the DVS emulator (:class:`mmsdt.datasets.events.emulator.DVSEmulator` with
:data:`EMULATOR`, the toy event classification set's settings). Labels are taken from the
renderer every :data:`LABEL_US` from :data:`FIRST_LABEL_US` on: a box is the object's **full
extent** (also where a nearer object hides part of it), as the Gen1 labels are. The sizes are
chosen so that every box passes the Gen1 protocol filter (diagonal >= 30 px, side >= 10 px)
without rescaling.

The set is written in the Gen1 release layout, ``root/{train,val}/NNNNNN_td.dat`` (events,
through :func:`mmsdt.datasets.events.io.write_events`, the sensor geometry in the header) and
``NNNNNN_bbox.npy`` (the release box dtype, through
:func:`mmsdt.datasets.events.prophesee_boxes.write_prophesee_boxes`), so it is read back by the
same readers and data set class as the real Gen1 data. Every recording comes from its own
generator (:func:`~.scene.image_rng` with the recording index), so the same arguments give
byte-identical files.
"""
import os
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..events.emulator import DVSEmulator
from ..events.io import write_events
from ..events.prophesee_boxes import BBOX_DTYPE, write_prophesee_boxes
from .fileio import FORMAT_VERSION, ProgressFn, check_split_args, read_marker, write_json
from .scene import image_rng

TOY_EVENT_DET_CLASSES: Tuple[str, ...] = ('car', 'pedestrian')
"""Class names in the order of their ``class_id`` (the Gen1 order)."""

TOY_EVENT_DET_SPLITS: Tuple[str, ...] = ('train', 'val')
"""Split folders under the set's root."""

SENSOR_SIZE: Tuple[int, int] = (128, 96)
"""Default sensor ``(W, H)``: divisible by 32 and close to Gen1's 304 x 240 aspect, with a
sixth of its pixels (the toy training budget)."""

DURATION_US = 2_000_000
"""Length of a recording (µs)."""

FRAME_US = 5_000
"""Time between rendered frames (µs): an object moves at most 0.4 px per frame."""

LABEL_US = 50_000
"""Time between label timestamps (µs)."""

FIRST_LABEL_US = 100_000
"""The first label timestamp (µs): labels at 100, 150, ..., 2000 ms."""

SIZES = dict(car=((28.0, 44.0), (16.0, 26.0)), pedestrian=((12.0, 18.0), (30.0, 44.0)))
"""Per class the ranges of box width and height (pixels); the smallest diagonal is 32 px
and the smallest side 12 px."""

SPEED_PX_S = (40.0, 80.0)
"""Range of the object speed (pixels per second)."""

NUM_OBJECTS = (3, 4)
"""Range (inclusive) of the objects per recording."""

MIN_VISIBLE = 0.5
"""The least visible fraction of an object's area at a label time."""

BORDER_PX = 0.5
"""Least distance (pixels) between an object and the sensor border."""

MAX_REDRAWS = 100
"""Scenes drawn for one recording before giving up (a smaller sensor may not fit the
objects)."""

EMULATOR = dict(pos_threshold=0.2, neg_threshold=0.2, threshold_sigma=0.03, refractory_us=500,
                shot_noise_hz=1.0)
"""The emulator settings (those of the toy event classification set)."""

EVENT_SUFFIX = '_td.dat'
BOX_SUFFIX = '_bbox.npy'


def label_times_us(duration_us: int = DURATION_US) -> np.ndarray:
    """Label timestamps (int64 µs) of a recording: every :data:`LABEL_US` from
    :data:`FIRST_LABEL_US` to ``duration_us``."""
    return np.arange(FIRST_LABEL_US, duration_us + 1, LABEL_US, dtype=np.int64)


def _bounce(start: np.ndarray, velocity: np.ndarray, low: np.ndarray, high: np.ndarray,
            seconds: np.ndarray) -> np.ndarray:
    """Positions ``(K, 2)`` of a point moving at ``velocity`` from ``start`` and reflected at
    ``low`` / ``high`` (a triangle wave of the free motion)."""
    span = high - low
    free = start[None] + velocity[None] * seconds[:, None] - low[None]
    folded = np.mod(free, 2 * span[None])
    return low[None] + np.where(folded <= span[None], folded, 2 * span[None] - folded)


def _draw_objects(rng: np.random.Generator, width: int, height: int,
                  seconds: np.ndarray) -> List[Dict[str, Any]]:
    """Classes, sizes, paths ``(K, 2)`` (box centres), textures and brightness of one scene's
    objects, farthest first."""
    count = int(rng.integers(NUM_OBJECTS[0], NUM_OBJECTS[1] + 1))
    objects = []
    for _ in range(count):
        label = int(rng.integers(len(TOY_EVENT_DET_CLASSES)))
        (w_lo, w_hi), (h_lo, h_hi) = SIZES[TOY_EVENT_DET_CLASSES[label]]
        size = np.array([rng.uniform(w_lo, w_hi), rng.uniform(h_lo, h_hi)], np.float32)
        size = size.astype(np.float64)  # the box file's float32 sizes exactly
        # half a pixel off the borders: the soft edges and float32 boxes stay on the sensor
        low = size / 2 + BORDER_PX
        high = np.array([width, height], np.float64) - size / 2 - BORDER_PX
        if np.any(high <= low):
            raise ValueError(f'toy event-det: a {TOY_EVENT_DET_CLASSES[label]} of up to '
                             f'{w_hi:g} x {h_hi:g} px does not fit a {width} x {height} sensor')
        start = rng.uniform(low, high)
        angle = rng.uniform(0, 2 * np.pi)
        velocity = rng.uniform(*SPEED_PX_S) * np.array([np.cos(angle), np.sin(angle)])
        objects.append(dict(
            label=label, size=size, centres=_bounce(start, velocity, low, high, seconds),
            level=rng.uniform(90.0, 230.0), depth=rng.uniform(0.25, 0.45),
            period=rng.uniform(5.0, 9.0), stripe_angle=rng.uniform(0, np.pi),
            phase=rng.uniform(0, 2 * np.pi)))
    return objects


def _coverage(obj: Dict[str, Any], width: int, height: int, frames: slice = slice(None)
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft coverage ``(K, H, W)`` float32 in 0-1 of ``obj`` in the ``frames`` and the pixel
    offsets ``dx``, ``dy`` from its centre."""
    centres = obj['centres'][frames]
    dx = (np.arange(width, dtype=np.float32) + 0.5)[None, None] - centres[:, 0, None, None]
    dy = (np.arange(height, dtype=np.float32) + 0.5)[None, :, None] - centres[:, 1, None, None]
    dx, dy = dx.astype(np.float32), dy.astype(np.float32)
    half_w, half_h = (obj['size'] / 2).astype(np.float32)
    if TOY_EVENT_DET_CLASSES[obj['label']] == 'car':
        dist = np.maximum(np.abs(dx) - half_w, np.abs(dy) - half_h)
    else:
        dist = (np.sqrt((dx / half_w) ** 2 + (dy / half_h) ** 2) - 1) * min(half_w, half_h)
    return np.clip(0.5 - dist, 0.0, 1.0), dx, dy


def _visible_fractions(objects: List[Dict[str, Any]], width: int, height: int,
                       frames: np.ndarray) -> np.ndarray:
    """Visible fraction ``(N, L)`` of each object's area in each of the ``frames`` (the
    nearer objects drawn over it)."""
    cover = [_coverage(obj, width, height, frames)[0] for obj in objects]
    out = np.ones((len(objects), len(frames)))
    for i, own in enumerate(cover):
        visible = own.copy()
        for nearer in cover[i + 1:]:
            visible *= 1 - nearer
        out[i] = visible.sum((1, 2)) / np.maximum(own.sum((1, 2)), 1e-9)
    return out


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A static smooth background: mean 15-35 grey levels, a random 4 x 5 grid (x0.75-1.25)
    resized bicubically; its brightest value stays below every object's darkest."""
    mean = rng.uniform(15.0, 35.0)
    grid = rng.uniform(0.75, 1.25, (4, 5)).astype(np.float32)
    smooth = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return mean * np.clip(smooth, 0.75, 1.25).astype(np.float64)


def _boxes(objects: List[Dict[str, Any]], frames: np.ndarray,
           times: np.ndarray) -> np.ndarray:
    """The full-extent boxes of every object at the label ``frames`` (``BBOX_DTYPE``, sorted
    by time, objects farthest first at one time)."""
    count = len(objects)
    centres = np.stack([obj['centres'][frames] for obj in objects], 1).reshape(-1, 2)
    sizes = np.tile(np.stack([obj['size'] for obj in objects]), (len(frames), 1))
    boxes = np.zeros(len(frames) * count, BBOX_DTYPE)
    boxes['ts'] = np.repeat(times, count)
    boxes['x'], boxes['y'] = (centres - sizes / 2).T
    boxes['w'], boxes['h'] = sizes.T
    boxes['class_id'] = np.tile([obj['label'] for obj in objects], len(frames))
    boxes['track_id'] = np.tile(np.arange(count), len(frames))
    boxes['confidence'] = 1.0
    return boxes


def render_event_det_scene(rng: np.random.Generator, width: int = SENSOR_SIZE[0],
                           height: int = SENSOR_SIZE[1], duration_us: int = DURATION_US
                           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Render one recording's video and its labels.

    Args:
        rng (numpy.random.Generator): the recording's generator.
        width (int): sensor width in pixels.
        height (int): sensor height in pixels.
        duration_us (int): recording length (µs), a multiple of :data:`LABEL_US` of at least
            :data:`FIRST_LABEL_US`.

    Returns:
        tuple: ``frames`` float64 ``(K, H, W)`` intensities 0-255, ``times_us`` int64 ``(K,)``
        (every :data:`FRAME_US` from 0), ``boxes`` (``BBOX_DTYPE``: every object at every
        label time, full extent, ``track_id`` = depth rank, 0 farthest) and ``visible``
        ``(L, N)``: the visible fraction of each object's area at each label time.

    Raises:
        ValueError: a bad duration, or no scene with every object visible enough fits the
            sensor in :data:`MAX_REDRAWS` draws.
    """
    if duration_us < FIRST_LABEL_US or duration_us % LABEL_US:
        raise ValueError(f'toy event-det: duration_us must be a multiple of {LABEL_US} and at '
                         f'least {FIRST_LABEL_US}, got {duration_us}')
    times = np.arange(0, duration_us + 1, FRAME_US, dtype=np.int64)
    seconds = times * 1e-6
    labels = label_times_us(duration_us)
    label_frames = labels // FRAME_US
    for _ in range(MAX_REDRAWS):
        objects = _draw_objects(rng, width, height, seconds)
        visible = _visible_fractions(objects, width, height, label_frames)
        if visible.min() >= MIN_VISIBLE:
            break
    else:
        raise ValueError(f'toy event-det: no scene with every object at least {MIN_VISIBLE:g} '
                         f'visible in {MAX_REDRAWS} draws on a {width} x {height} sensor')
    frames = np.repeat(_background(rng, width, height)[None], len(times), 0)
    for obj in objects:  # farthest first: nearer objects paint over farther ones
        cover, dx, dy = _coverage(obj, width, height)
        on = np.nonzero(cover)  # the texture only where the object is
        cover = cover[on]
        along = (np.broadcast_to(dx, frames.shape)[on] * np.cos(obj['stripe_angle']) +
                 np.broadcast_to(dy, frames.shape)[on] * np.sin(obj['stripe_angle']))
        stripes = 0.5 + 0.5 * np.tanh(3 * np.sin(along * (2 * np.pi / obj['period']) +
                                                 obj['phase']))
        shade = obj['level'] * (1 - obj['depth'] * stripes)
        frames[on] += cover * (shade - frames[on])
    return frames, times, _boxes(objects, label_frames, labels), visible.T


def toy_event_det_recording(rng: np.random.Generator, width: int = SENSOR_SIZE[0],
                            height: int = SENSOR_SIZE[1], duration_us: int = DURATION_US
                            ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events (``EVENT_DTYPE``), boxes (``BBOX_DTYPE``) and visible fractions ``(L, N)`` of
    one recording: :func:`render_event_det_scene` then the emulator with :data:`EMULATOR`,
    both drawing from ``rng``."""
    frames, times, boxes, visible = render_event_det_scene(rng, width, height, duration_us)
    events = DVSEmulator(**EMULATOR).emulate(frames, times, rng)
    return events, boxes, visible


def _clear_strays(folder: str, names: List[str]) -> None:
    """Remove recordings named like ours (``NNNNNN_td.*`` / ``NNNNNN_bbox.npy``) that are not
    in ``names`` (a larger earlier run)."""
    for entry in os.listdir(folder):
        stem = entry.split('_', 1)[0]
        if (len(stem) == 6 and stem.isdigit() and stem not in names
                and (entry[6:].startswith('_td.') or entry[6:] == BOX_SUFFIX)):
            os.remove(os.path.join(folder, entry))


def generate_toy_event_det(root: str, num_train: int = 24, num_val: int = 8, seed: int = 0,
                           width: int = SENSOR_SIZE[0], height: int = SENSOR_SIZE[1],
                           duration_us: int = DURATION_US, force: bool = False,
                           progress: Optional[ProgressFn] = None) -> Dict[str, Any]:
    """Write (or reuse) the toy event detection set under ``root`` in the Gen1 layout.

    Layout: ``root/{train,val}/NNNNNN_td.dat`` and ``NNNNNN_bbox.npy`` (``num_train`` /
    ``num_val`` recordings). If ``root/.complete_event_det`` holds the same arguments nothing
    is written (unless ``force``); the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Training recordings.
        num_val (int): Validation recordings.
        seed (int): Non-negative seed; the same arguments give identical files.
        width (int): Sensor width in pixels (64-1280).
        height (int): Sensor height in pixels (64-720).
        duration_us (int): Length of each recording (µs; see :func:`render_event_det_scene`).
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): ``progress(split, done, total)`` after each recording.

    Returns:
        dict: ``root``, ``format`` ('gen1'), ``generated`` (False when reused), ``classes``,
        ``sensor_size`` (W, H) and ``splits``: per split ``folder``, ``recordings``,
        ``labels`` (label timestamps), ``boxes``, ``events`` and ``occluded_boxes`` (boxes
        with under 95 % of their area visible); the last three are 0 when reused.

    Raises:
        ValueError: a count or the seed is negative or not an integer, or a bad sensor size
            or duration.
        OSError: a reused set misses a file.
    """
    check_split_args(num_train, num_val, seed)
    if not (64 <= width <= 1280 and 64 <= height <= 720):
        raise ValueError(f'toy event-det: sensor must be 64-1280 x 64-720 px, got {width} x '
                         f'{height}')
    args = dict(generator='toy_event_det', format_version=FORMAT_VERSION,
                num_train=int(num_train), num_val=int(num_val), seed=int(seed), width=int(width),
                height=int(height), duration_us=int(duration_us), frame_us=FRAME_US,
                label_us=LABEL_US, first_label_us=FIRST_LABEL_US, emulator=EMULATOR,
                events=EVENT_SUFFIX, box_dtype=[list(field) for field in BBOX_DTYPE.descr])
    marker = os.path.join(root, '.complete_event_det')
    counts = dict(train=int(num_train), val=int(num_val))
    reuse = not force and read_marker(marker) == args
    if not reuse and os.path.exists(marker):
        os.remove(marker)
    labels_per_recording = len(label_times_us(duration_us))

    splits = {}
    for split in TOY_EVENT_DET_SPLITS:
        folder = os.path.join(root, split)
        names = [f'{i:06d}' for i in range(counts[split])]
        stats = dict(folder=split, recordings=len(names),
                     labels=len(names) * labels_per_recording, boxes=0, events=0,
                     occluded_boxes=0)
        splits[split] = stats
        if reuse:
            for name in names:
                for suffix in (EVENT_SUFFIX, BOX_SUFFIX):
                    path = os.path.join(folder, name + suffix)
                    if not os.path.isfile(path):
                        raise OSError(f'missing recording file {path}')
            continue
        os.makedirs(folder, exist_ok=True)
        _clear_strays(folder, names)
        for i, name in enumerate(names):
            rng = image_rng(seed, 'event_det', split, i)
            events, boxes, visible = toy_event_det_recording(rng, width, height, duration_us)
            write_events(os.path.join(folder, name + EVENT_SUFFIX), events, (width, height))
            write_prophesee_boxes(os.path.join(folder, name + BOX_SUFFIX), boxes)
            stats['events'] += int(events.size)
            stats['boxes'] += int(boxes.size)
            stats['occluded_boxes'] += int((visible < 0.95).sum())
            if progress is not None:
                progress(split, i + 1, len(names))

    if not reuse:
        write_json(marker, args)
    return dict(root=os.path.abspath(root), format='gen1', generated=not reuse,
                classes=list(TOY_EVENT_DET_CLASSES), sensor_size=(int(width), int(height)),
                splits=splits)
