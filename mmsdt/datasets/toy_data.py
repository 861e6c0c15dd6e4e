"""Deterministic toy data sets (no downloads) for detection and segmentation runs.

Two generators share one scene renderer:

* :func:`generate_toy_coco` writes an instance data set in COCO format (``train/``,
  ``val/``, ``annotations/instances_{train,val}.json``) with the classes
  :data:`TOY_COCO_CLASSES`.
* :func:`generate_toy_ade` writes a semantic segmentation data set in the ADE20K folder
  layout (``images/{training,validation}/*.jpg``, ``annotations/{training,validation}/*.png``)
  whose label maps follow the ADE ``reduce_zero_label`` convention: value 0 is
  "unlabelled" and values 1..4 are :data:`TOY_ADE_CLASSES`.

A scene is a textured background (gradient, low-frequency blobs, optional stripes and pixel
noise in muted colours) with 1-5 circles, squares and triangles painted on top of it in
order, so that a later shape hides the part of an earlier one that it covers. Every image
is drawn from its own ``numpy.random.Generator`` seeded from ``(seed, data set, split,
index)``, images are written with fixed encoder settings and the JSON is written with a fixed
key order, so the same arguments always give the same files. A marker file holding the
generator arguments is written last; a later call with the same arguments returns at once.

Only numpy, cv2, json and os are used so that the module can be imported without mmdet or
mmseg.
"""
import json
import os

import cv2
import numpy as np

TOY_COCO_CLASSES = ('circle', 'square', 'triangle')
"""Instance classes of the toy COCO set; category ids are 1, 2, 3 in this order."""

TOY_ADE_CLASSES = ('background', 'circle', 'square', 'triangle')
"""Classes of the toy ADE set after ``reduce_zero_label`` (label values 1..4 on disk)."""

SHAPE_KINDS = TOY_COCO_CLASSES

# Bump when the rendering changes, so that existing markers no longer match.
FORMAT_VERSION = 1

MIN_VISIBLE_AREA = 60  # px; smaller visible instances are not annotated
MIN_VISIBLE_FRACTION = 0.25  # of the shape's full (in-image) area
MIN_FRAGMENT_AREA = 4  # px; smaller connected pieces of a visible mask are discarded
JPEG_QUALITY = 95
PNG_COMPRESSION = 3

_SPLITS_COCO = (('train', 'train'), ('val', 'val'))
_SPLITS_ADE = (('train', 'training'), ('val', 'validation'))
_DATASET_TAG = {'coco': 1, 'ade': 2}
_SPLIT_TAG = {'train': 0, 'val': 1}


# ----------------------------------------------------------------------------------------
# Scene rendering (shared by both generators)
# ----------------------------------------------------------------------------------------
def image_rng(seed, dataset, split, index):
    """Return the random generator of one image.

    The generator is seeded from the entropy ``[seed, dataset tag, split tag, index]``, so
    every image is independent of how many images come before it and train and val images
    (and the COCO and ADE sets) never share a stream.

    Args:
        seed (int): Non-negative data set seed.
        dataset (str): ``'coco'`` or ``'ade'``.
        split (str): ``'train'`` or ``'val'``.
        index (int): Image index inside the split.
    """
    return np.random.default_rng([int(seed), _DATASET_TAG[dataset], _SPLIT_TAG[split],
                                  int(index)])


def _muted_colour(rng, low=70.0, high=190.0, spread=35.0):
    """A low-saturation BGR colour: a grey level plus a small per-channel offset."""
    grey = rng.uniform(low, high)
    return np.clip(grey + rng.uniform(-spread, spread, 3), 0, 255)


def textured_background(rng, height, width):
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


def make_shape(kind, center, size, angle=0.0, rng=None):
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


def shape_extent(shape):
    """Return the radius of a circle around the shape's centre that contains the shape."""
    if shape['kind'] == 'circle':
        return shape['radius']
    return float(np.max(np.linalg.norm(shape['vertices'] - np.array(shape['center']), axis=1)))


def sample_shape(rng, height, width, min_scale=0.08, max_scale=0.45):
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


def shape_mask(shape, height, width):
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


def occlusion_masks(full_masks):
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


def has_holes(mask):
    """Tell whether a boolean mask has an enclosed hole (which a COCO polygon cannot hold)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return False
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    crop = np.pad(crop, 1).astype(np.uint8)
    _, hierarchy = cv2.findContours(crop, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and bool(np.any(hierarchy[0, :, 3] >= 0))


def pick_contrasting_colour(rng, image, mask, min_distance=90.0, tries=16):
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


def paint_shape(rng, image, mask, colour):
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


def render_scene(rng, height, width, min_shapes=1, max_shapes=5, placement_tries=8):
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


# ----------------------------------------------------------------------------------------
# Mask -> annotation helpers
# ----------------------------------------------------------------------------------------
def remove_small_fragments(mask, min_area=MIN_FRAGMENT_AREA):
    """Drop the 8-connected pieces of a boolean mask that have fewer than ``min_area`` px."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return mask.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def mask_to_polygons(mask, epsilon=0.5):
    """Convert a boolean mask into COCO polygons (one per external contour).

    Contours are traced with ``cv2.findContours`` (external contours only) on the mask
    upsampled 2x, then mapped back to COCO pixel coordinates (pixel ``i`` spans ``[i, i+1)``)
    so that each polygon runs along the pixel edges of its piece rather than through the
    centres of its border pixels; polygons are simplified with ``cv2.approxPolyDP`` to within
    ``epsilon`` px. Rasterised by pycocotools, the result matches the mask almost exactly.
    Holes are not represented.

    Args:
        mask (numpy.ndarray): Boolean ``(H, W)`` mask.
        epsilon (float): Simplification tolerance in pixels (0 disables it).

    Returns:
        list[list[float]]: Flat ``[x1, y1, x2, y2, ...]`` lists with at least 3 points each,
        in the order cv2 finds them.
    """
    mask = np.asarray(mask, bool)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return []
    y0, x0 = int(ys.min()), int(xs.min())
    crop = mask[y0:ys.max() + 1, x0:xs.max() + 1].astype(np.uint8)
    up = np.repeat(np.repeat(crop, 2, axis=0), 2, axis=1)
    up = np.pad(up, 1)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = []
    for c in contours:
        pts = c.reshape(-1, 2)
        if epsilon > 0:
            simple = cv2.approxPolyDP(c, 2 * epsilon, True).reshape(-1, 2)
            if len(simple) >= 3:
                pts = simple
        if len(pts) < 3:  # a lone pixel traces as 1-2 points in some cv2 versions
            px, py = pts[:, 0].min(), pts[:, 1].min()
            qx, qy = pts[:, 0].max() + 1, pts[:, 1].max() + 1
            pts = np.array([[px, py], [qx, py], [qx, qy], [px, qy]])
        # undo the pad of 1, map upsampled pixel index k to the COCO coordinate (k + 0.5) / 2
        xy = (pts.astype(np.float64) - 1 + 0.5) / 2.0 + np.array([x0, y0])
        polygons.append([float(v) for v in xy.reshape(-1)])
    return polygons


def mask_to_bbox(mask):
    """Return the tight ``[x, y, w, h]`` box (floats, COCO convention) of a boolean mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)]


def instance_annotation(visible_mask, full_area, min_area=MIN_VISIBLE_AREA,
                        min_fraction=MIN_VISIBLE_FRACTION):
    """Describe one visible instance mask, or return ``None`` when it is too hidden.

    Pieces smaller than :data:`MIN_FRAGMENT_AREA` are removed first. The instance is dropped
    when its visible area is below ``min_area`` px or below ``min_fraction`` of
    ``full_area``.

    Args:
        visible_mask (numpy.ndarray): Boolean visible mask.
        full_area (int): Pixel count of the whole (unoccluded) shape inside the image.
        min_area (int): Smallest visible area kept.
        min_fraction (float): Smallest visible fraction kept.

    Returns:
        dict or None: ``segmentation`` (polygons), ``area`` (int, pixel count of the cleaned
        visible mask), ``bbox`` (tight around it) and ``mask`` (the cleaned mask).
    """
    mask = remove_small_fragments(visible_mask)
    area = int(mask.sum())
    if area < min_area or area < min_fraction * full_area:
        return None
    polygons = mask_to_polygons(mask)
    if not polygons:
        return None
    return dict(segmentation=polygons, area=area, bbox=mask_to_bbox(mask), mask=mask)


def semantic_label_map(shapes, height, width):
    """Build an ADE-style label map from shapes in painting order.

    Every pixel starts as 1 ('background'). For each shape in order, a ring of
    ``shape['border']`` px just outside it is set to 0 (unlabelled) and its pixels are set to
    ``2 + index in SHAPE_KINDS``; later shapes overwrite earlier ones.

    Args:
        shapes (list[dict]): Shapes with ``kind``, ``full_mask`` and ``border``.
        height (int): Map height.
        width (int): Map width.

    Returns:
        numpy.ndarray: ``(height, width)`` uint8 label map with values in ``{0, ..., 4}``.
    """
    label = np.ones((height, width), np.uint8)
    for shape in shapes:
        full = shape['full_mask']
        b = int(shape.get('border', 2))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * b + 1, 2 * b + 1))
        ring = cv2.dilate(full.astype(np.uint8), kernel).astype(bool) & ~full
        label[ring] = 0
        label[full] = 2 + SHAPE_KINDS.index(shape['kind'])
    return label


# ----------------------------------------------------------------------------------------
# Files and markers
# ----------------------------------------------------------------------------------------
def _check_args(num_train, num_val, seed):
    for name, value in (('num_train', num_train), ('num_val', num_val), ('seed', seed)):
        if int(value) != value or value < 0:
            raise ValueError(f'{name} must be a non-negative integer, got {value!r}')


def _read_marker(path):
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _write_json(path, obj):
    """Write JSON atomically (temporary file + rename) with a fixed layout."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def _clear_generated(folder, suffix):
    """Remove files named like ours (``NNNNNN<suffix>``) so a smaller rerun leaves no strays."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext == suffix and len(stem) == 6 and stem.isdigit():
            os.remove(os.path.join(folder, name))


def _imwrite(path, image, params):
    if not cv2.imwrite(path, image, params):
        raise OSError(f'could not write {path}')


# ----------------------------------------------------------------------------------------
# COCO
# ----------------------------------------------------------------------------------------
def _coco_summary(root, datasets):
    splits = {}
    for split, data in datasets.items():
        per_class = {name: 0 for name in TOY_COCO_CLASSES}
        for ann in data['annotations']:
            per_class[TOY_COCO_CLASSES[ann['category_id'] - 1]] += 1
        splits[split] = dict(images=len(data['images']), instances=len(data['annotations']),
                             per_class=per_class)
    return dict(root=os.path.abspath(root), format='coco', splits=splits)


def generate_toy_coco(root, num_train=200, num_val=50, seed=0, min_size=256, max_size=320,
                      force=False, progress=None):
    """Write (or reuse) the toy COCO instance segmentation set under ``root``.

    Layout: ``root/train/000000.jpg ...``, ``root/val/...`` and
    ``root/annotations/instances_{train,val}.json``; ``file_name`` is relative to the split
    folder, so mmdet's ``CocoDataset`` takes ``data_prefix=dict(img='train/')``. Classes are
    :data:`TOY_COCO_CLASSES` with category ids 1, 2, 3. Image width and height are drawn
    independently in ``[min_size, max_size]``. Annotations describe the visible (unoccluded)
    part of each shape: polygons from its external contours, a tight box and the pixel count
    as ``area``; instances with fewer than 60 visible px or under 25% of their full area
    are left out.

    If ``root/.complete_coco`` holds the same arguments nothing is written (unless
    ``force``); the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        seed (int): Non-negative seed; the same arguments give byte-identical files.
        min_size (int): Smallest image side.
        max_size (int): Largest image side.
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): Called as ``progress(split, done, total)`` after each
            image.

    Returns:
        dict: ``root``, ``format`` ('coco'), ``generated`` (False when reused) and ``splits``:
        for 'train' and 'val', ``images``, ``instances`` and ``per_class`` (instances per
        class name).
    """
    _check_args(num_train, num_val, seed)
    if not 32 <= min_size <= max_size:
        raise ValueError(f'need 32 <= min_size <= max_size, got {min_size}, {max_size}')
    args = dict(generator='toy_coco', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), min_size=int(min_size),
                max_size=int(max_size))
    marker = os.path.join(root, '.complete_coco')
    ann_dir = os.path.join(root, 'annotations')
    counts = dict(train=int(num_train), val=int(num_val))

    if not force and _read_marker(marker) == args:
        datasets = {}
        for split, _ in _SPLITS_COCO:
            with open(os.path.join(ann_dir, f'instances_{split}.json'), encoding='utf-8') as f:
                datasets[split] = json.load(f)
        summary = _coco_summary(root, datasets)
        summary['generated'] = False
        return summary

    if os.path.exists(marker):
        os.remove(marker)
    os.makedirs(ann_dir, exist_ok=True)
    categories = [dict(id=i + 1, name=name, supercategory='shape')
                  for i, name in enumerate(TOY_COCO_CLASSES)]
    datasets = {}
    for split, folder in _SPLITS_COCO:
        img_dir = os.path.join(root, folder)
        os.makedirs(img_dir, exist_ok=True)
        _clear_generated(img_dir, '.jpg')
        images, annotations = [], []
        for index in range(counts[split]):
            rng = image_rng(seed, 'coco', split, index)
            width, height = (int(v) for v in rng.integers(min_size, max_size + 1, size=2))
            image, shapes = render_scene(rng, height, width)
            file_name = f'{index:06d}.jpg'
            _imwrite(os.path.join(img_dir, file_name), image,
                     [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            image_id = index + 1
            images.append(dict(id=image_id, file_name=file_name, width=width, height=height))
            for shape in shapes:
                ann = instance_annotation(shape['visible_mask'], int(shape['full_mask'].sum()))
                if ann is None:
                    continue
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=TOY_COCO_CLASSES.index(shape['kind']) + 1,
                    segmentation=ann['segmentation'], area=ann['area'], bbox=ann['bbox'],
                    iscrowd=0))
            if progress is not None:
                progress(split, index + 1, counts[split])
        data = dict(
            info=dict(description='mmsdt toy shapes (generated)', version=str(FORMAT_VERSION),
                      seed=int(seed)),
            licenses=[], images=images, annotations=annotations, categories=categories)
        _write_json(os.path.join(ann_dir, f'instances_{split}.json'), data)
        datasets[split] = data

    _write_json(marker, args)
    summary = _coco_summary(root, datasets)
    summary['generated'] = True
    return summary


# ----------------------------------------------------------------------------------------
# ADE
# ----------------------------------------------------------------------------------------
def _ade_split_stats(labels):
    """Pixel and image counts per label value (0 = 'unlabelled', then TOY_ADE_CLASSES)."""
    names = ('unlabelled', ) + TOY_ADE_CLASSES
    pixels = np.zeros(len(names), np.int64)
    images = np.zeros(len(names), np.int64)
    for label in labels:
        hist = np.bincount(label.reshape(-1), minlength=len(names))[:len(names)]
        pixels += hist
        images += hist > 0
    return dict(images=len(labels),
                pixels_per_class={n: int(v) for n, v in zip(names, pixels)},
                images_per_class={n: int(v) for n, v in zip(names, images)})


def generate_toy_ade(root, num_train=200, num_val=50, seed=0, size=256, force=False,
                     progress=None):
    """Write (or reuse) the toy ADE20K-layout semantic segmentation set under ``root``.

    Layout: ``root/images/{training,validation}/000000.jpg ...`` and
    ``root/annotations/{training,validation}/000000.png`` (8-bit single-channel label
    maps, ``size x size``). Label values follow ADE with ``reduce_zero_label``: 0 is
    unlabelled (a 2-3 px ring around every shape), 1 'background', 2 'circle', 3 'square',
    4 'triangle'; after mmseg's ``reduce_zero_label`` these become 255 (ignored) and 0..3,
    i.e. :data:`TOY_ADE_CLASSES`. Later shapes overwrite earlier ones.

    If ``root/.complete_ade`` holds the same arguments nothing is written (unless ``force``);
    the marker is written after everything else.

    Args:
        root (str): Output folder (created if needed).
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        seed (int): Non-negative seed; the same arguments give identical files.
        size (int): Image side in pixels.
        force (bool): Regenerate even if the marker matches.
        progress (callable, optional): Called as ``progress(split, done, total)`` after each
            image.

    Returns:
        dict: ``root``, ``format`` ('ade'), ``generated`` (False when reused) and ``splits``:
        for 'train' and 'val', ``images``, ``pixels_per_class`` and ``images_per_class``
        (keys 'unlabelled' and the names in :data:`TOY_ADE_CLASSES`).
    """
    _check_args(num_train, num_val, seed)
    if size < 32:
        raise ValueError(f'size must be at least 32, got {size}')
    args = dict(generator='toy_ade', format_version=FORMAT_VERSION, num_train=int(num_train),
                num_val=int(num_val), seed=int(seed), size=int(size))
    marker = os.path.join(root, '.complete_ade')
    counts = dict(train=int(num_train), val=int(num_val))
    reuse = not force and _read_marker(marker) == args
    if not reuse and os.path.exists(marker):
        os.remove(marker)

    splits = {}
    for split, folder in _SPLITS_ADE:
        img_dir = os.path.join(root, 'images', folder)
        ann_dir = os.path.join(root, 'annotations', folder)
        labels = []
        if reuse:
            for index in range(counts[split]):
                path = os.path.join(ann_dir, f'{index:06d}.png')
                label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
                if label is None:
                    raise OSError(f'missing label map {path}')
                labels.append(label)
            splits[split] = _ade_split_stats(labels)
            continue
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        _clear_generated(img_dir, '.jpg')
        _clear_generated(ann_dir, '.png')
        for index in range(counts[split]):
            rng = image_rng(seed, 'ade', split, index)
            image, shapes = render_scene(rng, size, size)
            label = semantic_label_map(shapes, size, size)
            _imwrite(os.path.join(img_dir, f'{index:06d}.jpg'), image,
                     [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            _imwrite(os.path.join(ann_dir, f'{index:06d}.png'), label,
                     [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
            labels.append(label)
            if progress is not None:
                progress(split, index + 1, counts[split])
        splits[split] = _ade_split_stats(labels)

    if not reuse:
        _write_json(marker, args)
    return dict(root=os.path.abspath(root), format='ade', generated=not reuse, splits=splits)
