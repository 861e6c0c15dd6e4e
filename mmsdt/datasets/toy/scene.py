"""Scene rendering of the toy data sets: backgrounds, shapes, painting and occlusion.

A scene is a textured background (gradient, low-frequency blobs, optional stripes and pixel
noise in muted colours) with 1-5 circles, squares and triangles painted on top of it in
order, so that a later shape hides the part of an earlier one that it covers. Every image
is drawn from its own ``numpy.random.Generator`` (:func:`image_rng`), so a scene depends only
on its seed, data set, split and index.

Only numpy and cv2 are used.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

Shape = Dict[str, Any]
"""A shape description: ``kind``, ``center``, ``size``, ``angle``, ``radius``, ``vertices``
(see :func:`make_shape`); :func:`render_scene` adds ``full_mask``, ``visible_mask`` and
``border``."""

SHAPE_KINDS: Tuple[str, ...] = ('circle', 'square', 'triangle')
"""The shape kinds, in the order of their class ids."""

_DATASET_TAG = {'coco': 1, 'ade': 2, 'cls': 3, 'dvs': 4, 'event_det': 5}
_SPLIT_TAG = {'train': 0, 'val': 1}


def image_rng(seed: int, dataset: str, split: str, index: int) -> np.random.Generator:
    """Return the random generator of one image.

    The generator is seeded from the entropy ``[seed, dataset tag, split tag, index]``, so
    every image is independent of how many images come before it and train and val images
    (and the COCO and ADE sets) never share a stream.

    Args:
        seed (int): Non-negative data set seed.
        dataset (str): ``'coco'``, ``'ade'``, ``'cls'``, ``'dvs'`` or ``'event_det'``.
        split (str): ``'train'`` or ``'val'``.
        index (int): Image index inside the split.

    Returns:
        numpy.random.Generator: The image's generator.
    """
    return np.random.default_rng([int(seed), _DATASET_TAG[dataset], _SPLIT_TAG[split],
                                  int(index)])


def _muted_colour(rng: np.random.Generator, low: float = 70.0, high: float = 190.0,
                  spread: float = 35.0) -> np.ndarray:
    """A low-saturation BGR colour: a grey level plus a small per-channel offset."""
    grey = rng.uniform(low, high)
    return np.clip(grey + rng.uniform(-spread, spread, 3), 0, 255)


def textured_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Draw a textured background image.

    The texture is a linear gradient between two muted colours in a random direction, plus
    low-frequency blobs, random stripes (with probability 0.6) and Gaussian pixel noise.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        numpy.ndarray: ``(height, width, 3)`` uint8 BGR image.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy /= max(height - 1, 1)
    xx /= max(width - 1, 1)
    theta = rng.uniform(0, 2 * np.pi)
    t = xx * np.cos(theta) + yy * np.sin(theta)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    c0, c1 = _muted_colour(rng), _muted_colour(rng)
    img = c0[None, None].astype(np.float32) * (1 - t[..., None]) \
        + c1[None, None].astype(np.float32) * t[..., None]

    # Low-frequency blobs: mostly luminance, a little colour.
    gh, gw = (int(v) for v in rng.integers(3, 9, size=2))
    lum = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    col = rng.normal(0, 1, (gh, gw, 3)).astype(np.float32)
    lum = cv2.resize(lum, (width, height), interpolation=cv2.INTER_CUBIC)
    col = cv2.resize(col, (width, height), interpolation=cv2.INTER_CUBIC)
    img += rng.uniform(8, 25) * lum[..., None] + rng.uniform(2, 8) * col

    if rng.uniform() < 0.6:
        phi = rng.uniform(0, 2 * np.pi)
        cycles = rng.uniform(3, 20)
        u = xx * np.cos(phi) + yy * np.sin(phi)
        wave = np.sin(2 * np.pi * cycles * u + rng.uniform(0, 2 * np.pi))
        if rng.uniform() < 0.5:  # hard-edged stripes
            wave = np.sign(wave)
        img += (rng.uniform(5, 18) * wave)[..., None] * (0.7 + 0.3 * rng.uniform(0, 1, 3))

    img += rng.normal(0, rng.uniform(2, 8), (height, width, 3)).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def make_shape(kind: str, center: Sequence[float], size: float, angle: float = 0.0,
               rng: Optional[np.random.Generator] = None) -> Shape:
    """Describe one shape.

    ``size`` is the nominal size: the diameter of a circle, the side of a square and 1.2x
    the circumradius of a triangle. A triangle's vertices are spaced 120 degrees apart; with
    ``rng`` their angles and radii are jittered a little so that triangles vary.

    Args:
        kind (str): One of :data:`SHAPE_KINDS`.
        center (tuple[float, float]): ``(x, y)`` centre in pixels.
        size (float): Nominal size in pixels.
        angle (float): Rotation in degrees (ignored for circles).
        rng (numpy.random.Generator, optional): Jitter source for triangles.

    Returns:
        dict: ``kind``, ``center``, ``size``, ``angle``, ``radius`` (circle only) and
        ``vertices`` (``(N, 2)`` float array, ``None`` for a circle).

    Raises:
        ValueError: ``kind`` is not one of :data:`SHAPE_KINDS`.
    """
    if kind not in SHAPE_KINDS:
        raise ValueError(f'unknown shape kind {kind!r}')
    cx, cy = float(center[0]), float(center[1])
    shape = dict(kind=kind, center=(cx, cy), size=float(size), angle=float(angle),
                 radius=None, vertices=None)
    if kind == 'circle':
        shape['radius'] = size / 2.0
        return shape
    if kind == 'square':
        half = size / 2.0
        base = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    else:
        offs = np.zeros(3) if rng is None else rng.uniform(-15, 15, 3)
        scale = np.ones(3) if rng is None else rng.uniform(0.85, 1.0, 3)
        ang = np.deg2rad(np.array([-90.0, 30.0, 150.0]) + offs)
        r = 0.6 * size * scale
        base = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shape['vertices'] = base @ rot.T + np.array([cx, cy])
    return shape


def shape_extent(shape: Shape) -> float:
    """Return the radius of a circle around the shape's centre that contains the shape."""
    if shape['kind'] == 'circle':
        return shape['radius']
    return float(np.max(np.linalg.norm(shape['vertices'] - np.array(shape['center']), axis=1)))


def sample_shape(rng: np.random.Generator, height: int, width: int, min_scale: float = 0.08,
                 max_scale: float = 0.45) -> Shape:
    """Draw a random shape that lies mostly inside a ``height x width`` image.

    The kind is uniform over :data:`SHAPE_KINDS`, the nominal size is log-uniform in
    ``[min_scale, max_scale]`` times the short image side, squares and triangles get a
    random rotation, and the centre keeps at least 70% of the shape's extent inside the
    image (shapes may be cut a little by the border).

    Args:
        rng (numpy.random.Generator): Source of randomness.
        height (int): Image height.
        width (int): Image width.
        min_scale (float): Smallest size as a fraction of the short side.
        max_scale (float): Largest size as a fraction of the short side.

    Returns:
        dict: A shape as returned by :func:`make_shape`.
    """
    kind = SHAPE_KINDS[int(rng.integers(len(SHAPE_KINDS)))]
    short = min(height, width)
    size = short * float(np.exp(rng.uniform(np.log(min_scale), np.log(max_scale))))
    angle = rng.uniform(0, 360) if kind != 'circle' else 0.0
    shape = make_shape(kind, (0.0, 0.0), size, angle, rng=rng)
    ext = shape_extent(shape)
    margin_x = min(0.7 * ext, width / 2.0)
    margin_y = min(0.7 * ext, height / 2.0)
    cx = rng.uniform(margin_x, width - margin_x)
    cy = rng.uniform(margin_y, height - margin_y)
    shape['center'] = (float(cx), float(cy))
    if shape['vertices'] is not None:
        shape['vertices'] = shape['vertices'] + np.array([cx, cy])
    return shape


def shape_mask(shape: Shape, height: int, width: int) -> np.ndarray:
    """Rasterise a shape into a boolean ``(height, width)`` mask (hard edges, no blending).

    Args:
        shape (dict): A shape from :func:`make_shape` or :func:`sample_shape`.
        height (int): Mask height.
        width (int): Mask width.

    Returns:
        numpy.ndarray: Boolean mask of the pixels covered by the shape inside the image.
    """
    mask = np.zeros((height, width), np.uint8)
    shift = 4
    if shape['kind'] == 'circle':
        c = tuple(int(round(v * (1 << shift))) for v in shape['center'])
        r = int(round(shape['radius'] * (1 << shift)))
        cv2.circle(mask, c, r, 1, thickness=-1, lineType=cv2.LINE_8, shift=shift)
    else:
        pts = np.round(shape['vertices'] * (1 << shift)).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def occlusion_masks(full_masks: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Return the visible part of each mask when the masks are painted in order.

    A later mask hides the pixels of every earlier mask that it covers:
    ``visible[i] = full[i] & ~(full[i+1] | ... | full[-1])``.

    Args:
        full_masks (list[numpy.ndarray]): Boolean masks of equal shape, in painting order.

    Returns:
        list[numpy.ndarray]: Boolean visible masks in the same order.
    """
    visible = [None] * len(full_masks)
    covered = None
    for i in range(len(full_masks) - 1, -1, -1):
        m = np.asarray(full_masks[i], bool)
        if covered is None:
            visible[i] = m.copy()
            covered = m.copy()
        else:
            visible[i] = m & ~covered
            covered |= m
    return visible


def has_holes(mask: np.ndarray) -> bool:
    """Tell whether a boolean mask has an enclosed hole (which a COCO polygon cannot hold)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return False
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    crop = np.pad(crop, 1).astype(np.uint8)
    _, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool(np.any(hierarchy[0, :, 3] >= 0))


def pick_contrasting_colour(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray,
                            min_distance: float = 90.0, tries: int = 16) -> np.ndarray:
    """Pick a saturated BGR colour that stands out from the image under ``mask``.

    Random colours (any hue, saturation 120-255, value 60-255) are drawn until one is at
    least ``min_distance`` (Euclidean, BGR) away from the mean colour of the pixels it will
    cover; after ``tries`` draws the most distant one is used.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        image (numpy.ndarray): Current ``(H, W, 3)`` uint8 image.
        mask (numpy.ndarray): Boolean mask of the pixels to be painted.
        min_distance (float): Required distance from the local mean colour.
        tries (int): Number of candidates at most.

    Returns:
        numpy.ndarray: ``(3,)`` float BGR colour.
    """
    local = image[mask].reshape(-1, 3).mean(0) if mask.any() else np.full(3, 128.0)
    best, best_d = None, -1.0
    for _ in range(tries):
        hsv = np.array([[[rng.integers(0, 180), rng.integers(120, 256), rng.integers(60, 256)]]],
                       np.uint8)
        bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float64)
        d = float(np.linalg.norm(bgr - local))
        if d > best_d:
            best, best_d = bgr, d
        if d >= min_distance:
            break
    return best


def paint_shape(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray,
                colour: np.ndarray) -> None:
    """Paint ``colour`` into ``image`` (in place) under ``mask`` with light shading and noise.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        image (numpy.ndarray): ``(H, W, 3)`` uint8 image, modified in place.
        mask (numpy.ndarray): Boolean mask of the pixels to paint.
        colour (numpy.ndarray): ``(3,)`` BGR base colour.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub = mask[y0:y1, x0:x1]
    yy, xx = np.mgrid[0:y1 - y0, 0:x1 - x0].astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    u = xx * np.cos(a) + yy * np.sin(a)
    u = (u - u.mean()) / max(float(np.abs(u - u.mean()).max()), 1.0)
    shade = rng.uniform(0, 20) * u
    noise = rng.normal(0, 4, (y1 - y0, x1 - x0, 3)).astype(np.float32)
    val = np.asarray(colour, np.float32)[None, None] + shade[..., None] + noise
    region = image[y0:y1, x0:x1]
    region[sub] = np.clip(val[sub] + 0.5, 0, 255).astype(np.uint8)


def render_scene(rng: np.random.Generator, height: int, width: int, min_shapes: int = 1,
                 max_shapes: int = 5, placement_tries: int = 8
                 ) -> Tuple[np.ndarray, List[Shape]]:
    """Render a textured image with 1-5 overlapping shapes painted in order.

    A placement that would leave an enclosed hole in the visible mask of an earlier shape is
    redrawn (up to ``placement_tries`` times, after which the shape is left out), so that every
    visible mask can be described by its external contours. Each shape also gets an
    unlabelled border width of 2 or 3 px used by the ADE label maps.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        height (int): Image height.
        width (int): Image width.
        min_shapes (int): Fewest shapes to attempt.
        max_shapes (int): Most shapes to attempt.
        placement_tries (int): Draws per shape before it is left out.

    Returns:
        tuple: ``(image, shapes)``: the ``(H, W, 3)`` uint8 BGR image and a list of dicts in
        painting order, each a shape from :func:`make_shape` plus ``full_mask`` (boolean),
        ``visible_mask`` (boolean, after occlusion by the later shapes) and ``border`` (int).
    """
    image = textured_background(rng, height, width)
    n = int(rng.integers(min_shapes, max_shapes + 1))
    shapes = []
    for _ in range(n):
        chosen = None
        for _ in range(placement_tries):
            cand = sample_shape(rng, height, width)
            full = shape_mask(cand, height, width)
            if not full.any():
                continue
            ok = True
            for prev in shapes:
                if (prev['visible_mask'] & full).any() and \
                        has_holes(prev['visible_mask'] & ~full):
                    ok = False
                    break
            if ok:
                chosen, chosen_full = cand, full
                break
        if chosen is None:
            continue
        for prev in shapes:
            prev['visible_mask'] = prev['visible_mask'] & ~chosen_full
        colour = pick_contrasting_colour(rng, image, chosen_full)
        paint_shape(rng, image, chosen_full, colour)
        chosen['full_mask'] = chosen_full
        chosen['visible_mask'] = chosen_full.copy()
        chosen['border'] = int(rng.integers(2, 4))
        shapes.append(chosen)
    return image, shapes


def toy_scene(height: int, width: int, seed: int = 0, channel_order: str = 'bgr') -> np.ndarray:
    """One generated scene (:func:`render_scene` drawn from ``numpy.random.default_rng(seed)``)
    as an ``(H, W, 3)`` uint8 array in ``channel_order`` (``'bgr'`` or ``'rgb'``), for tools
    that need an image without a data set; the same arguments give the same pixels.

    Raises:
        ValueError: a side under 32 pixels or an unknown channel order.
    """
    if min(height, width) < 32:
        raise ValueError(f'a toy scene needs at least 32 x 32 pixels, got {height} x {width}')
    if channel_order not in ('bgr', 'rgb'):
        raise ValueError(f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    image, _ = render_scene(np.random.default_rng(seed), height, width)
    return image if channel_order == 'bgr' else np.ascontiguousarray(image[:, :, ::-1])
