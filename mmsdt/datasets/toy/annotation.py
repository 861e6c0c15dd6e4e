"""From rendered masks to annotations: COCO polygons, boxes, instances and ADE label maps.

Only numpy and cv2 are used.
"""
from typing import Any, Dict, List, Optional, Sequence

import cv2
import numpy as np

from .scene import SHAPE_KINDS, Shape

MIN_VISIBLE_AREA = 60  # px; smaller visible instances are not annotated
MIN_VISIBLE_FRACTION = 0.25  # of the shape's full (in-image) area
MIN_FRAGMENT_AREA = 4  # px; smaller connected pieces of a visible mask are discarded


def remove_small_fragments(mask: np.ndarray, min_area: int = MIN_FRAGMENT_AREA) -> np.ndarray:
    """Drop the 8-connected pieces of a boolean mask that have fewer than ``min_area`` px.

    Args:
        mask (numpy.ndarray): Boolean ``(H, W)`` mask.
        min_area (int): Smallest piece kept, in pixels.

    Returns:
        numpy.ndarray: A new boolean mask holding the kept pieces.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        return mask.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


def mask_to_polygons(mask: np.ndarray, epsilon: float = 0.5) -> List[List[float]]:
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


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """Return the tight ``[x, y, w, h]`` box (floats, COCO convention) of a boolean mask.

    An empty mask gives ``[0.0, 0.0, 0.0, 0.0]``.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() + 1 - x0), float(ys.max() + 1 - y0)]


def instance_annotation(visible_mask: np.ndarray, full_area: int,
                        min_area: int = MIN_VISIBLE_AREA,
                        min_fraction: float = MIN_VISIBLE_FRACTION) -> Optional[Dict[str, Any]]:
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


def semantic_label_map(shapes: Sequence[Shape], height: int, width: int) -> np.ndarray:
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
