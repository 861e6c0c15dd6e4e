"""Checks of a COCO annotation file, for what stock mmdet drops silently or fails on far away.

Stock mmdet's ``CocoDataset`` drops an annotation whose category id is not in ``categories``,
whose box has a width or height under 1 px or lies outside its image, or whose ``area`` is
not positive, without a word; it keeps an empty ``segmentation`` list, which then fails in a
data-loader worker as ``KeyError: 'mask'``; it ignores, again silently, every instance whose
polygons are all malformed; an orphan annotation (unknown ``image_id``) disappears in
pycocotools' index. The functions here find all of these in the parsed JSON, before
pycocotools indexes it, and describe each finding with the annotation id and its image's file
name. :class:`mmsdt.datasets.CheckedCocoDataset` applies them when a data set is loaded.

Pure Python and numpy: nothing here imports mmdet.
"""
import json
import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

BAD_ANNOTATION_POLICIES = ('raise', 'skip')
"""What a data set does with bad annotations: stop (default) or drop them with a count."""
MAX_LISTED = 10
"""How many findings an error message lists (all are counted)."""
MIN_POLYGON_AREA = 1e-6
"""Polygons (all parts together) with a smaller area (px²) count as zero-area: collinear or
repeated points, which rasterise to an empty mask."""

# the kinds of bad annotation, in the order they are checked (one kind per annotation)
NOT_AN_OBJECT = 'not a JSON object'
NO_ID = 'no "id"'
UNKNOWN_IMAGE = 'image_id not in images'
UNKNOWN_CATEGORY = 'category_id not in categories'
BAD_BBOX = 'bbox is not 4 finite numbers'
EMPTY_BOX = 'box width or height <= 0'
BOX_OUTSIDE = 'box outside its image'
BAD_AREA = 'area missing, not finite or <= 0'
NO_SEGMENTATION = 'no segmentation (masks are loaded)'
BAD_POLYGON = 'polygon with an odd number of coordinates or fewer than 3 points'
ZERO_AREA_POLYGON = 'zero-area polygon'
BAD_RLE = 'RLE without counts / size, or of another size than its image'
UNKNOWN_SEGMENTATION = 'segmentation neither polygons nor RLE'


@dataclass(frozen=True)
class BadAnnotation:
    """One bad annotation of a COCO file.

    Attributes:
        index: its position in the file's ``annotations`` list.
        ann_id: its ``id`` (None when it has none).
        file_name: its image's ``file_name`` (None when the image is unknown).
        kind: what is wrong, one of the kind constants of this module.
        detail: the offending values.
    """
    index: int
    ann_id: Any
    file_name: Optional[str]
    kind: str
    detail: str

    def describe(self) -> str:
        """``annotation id 5 (image 000001.jpg): <kind>: <detail>``."""
        who = f'annotations[{self.index}]' if self.ann_id is None \
            else f'annotation id {self.ann_id}'
        where = '' if self.file_name is None else f' (image {self.file_name})'
        return f'{who}{where}: {self.kind}: {self.detail}'


def read_coco_json(path: str, name: Optional[str] = None) -> Dict[str, Any]:
    """Parse a COCO annotation file; errors name the file.

    Args:
        path (str): the local file.
        name (str, optional): how messages name it (the configured ``ann_file`` when ``path``
            is a local copy of a remote file); ``path`` by default.

    Returns:
        dict: the parsed top-level object.

    Raises:
        ValueError: the file is not valid JSON (truncated, corrupt) or its top level is not
            an object.
    """
    name = name or path
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        size = os.path.getsize(path)
        raise ValueError(f'{name}: not valid JSON ({err.msg}: line {err.lineno} column '
                         f'{err.colno}, char {err.pos} of {size}); is the annotation file '
                         f'truncated or corrupt?') from err
    except UnicodeDecodeError as err:
        raise ValueError(f'{name}: not a UTF-8 text file ({err}); is it an annotation '
                         f'file?') from err
    if not isinstance(data, dict):
        raise ValueError(f'{name}: the top level is a JSON {type(data).__name__}, not an object '
                         f'with "images", "annotations" and "categories"')
    return data


def _listed(items: Sequence[str], total: int) -> str:
    lines = ''.join(f'\n  {item}' for item in items[:MAX_LISTED])
    more = total - min(len(items), MAX_LISTED)
    return lines + (f'\n  ... and {more} more' if more > 0 else '')


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _key(value: Any) -> Any:
    """``value`` if it can be a JSON id (a dict key), else None."""
    return value if isinstance(value, (int, float, str)) else None


def _image_problem(image: Any) -> Optional[str]:
    if not isinstance(image, dict):
        return f'not a JSON object: {image!r:.80}'
    if _key(image.get('id')) is None:
        return f'id {image.get("id")!r} is not a number or string (file_name ' \
            f'{image.get("file_name")!r})'
    name = image.get('file_name')
    if not isinstance(name, str) or not name:
        return f'id {image["id"]}: file_name {name!r} is not a file name'
    for key in ('height', 'width'):
        if not _is_number(image.get(key)) or image[key] <= 0:
            return f'id {image["id"]} ({name}): {key} {image.get(key)!r} is not a positive number'
    return None


def check_coco_structure(data: Dict[str, Any], name: str, need_annotations: bool) -> None:
    """Check the top-level lists, every image entry and every category entry.

    These problems cannot be fixed by dropping an annotation, so they always raise.

    Args:
        data (dict): the parsed file (:func:`read_coco_json`).
        name (str): how messages name the file.
        need_annotations (bool): a missing or empty ``annotations`` list is an error (a
            training set); test sets may come without (COCO's image-info files).

    Raises:
        ValueError: ``images`` or ``categories`` missing, not lists, or ``images`` empty;
            ``annotations`` not a list, or missing / empty when needed; an image without
            ``id``, ``file_name`` or a positive ``height`` / ``width``; duplicate image or
            category ids; a category without ``id`` or ``name``. The message names the file
            and lists the first entries at fault.
    """
    for key in ('images', 'categories'):
        if not isinstance(data.get(key), list):
            got = 'missing' if key not in data else f'a {type(data[key]).__name__}'
            raise ValueError(f'{name}: "{key}" must be a list, it is {got} (top-level keys: '
                             f'{sorted(data)})')
    anns = data.get('annotations')
    if anns is not None and not isinstance(anns, list):
        raise ValueError(f'{name}: "annotations" must be a list, it is a {type(anns).__name__}')
    if not data['images']:
        raise ValueError(f'{name}: no images ("images" is empty)')
    if need_annotations and not anns:
        state = 'missing' if anns is None else 'empty'
        raise ValueError(f'{name}: no annotations ("annotations" is {state}); a training set '
                         f'needs annotated images')

    problems = []
    seen = set()
    for i, image in enumerate(data['images']):
        problem = _image_problem(image)
        if problem is None and image['id'] in seen:
            problem = f'id {image["id"]} ({image["file_name"]}): duplicate image id'
        if problem is not None:
            problems.append(f'images[{i}]: {problem}')
        else:
            seen.add(image['id'])
    if problems:
        raise ValueError(f'{name}: {len(problems)} of {len(data["images"])} image entries are '
                         f'bad:{_listed(problems, len(problems))}')

    problems = []
    seen = set()
    for i, cat in enumerate(data['categories']):
        if not isinstance(cat, dict) or _key(cat.get('id')) is None or 'name' not in cat:
            problems.append(f'categories[{i}]: {cat!r:.80} needs an "id" (number or string) '
                            f'and a "name"')
        elif cat['id'] in seen:
            problems.append(f'categories[{i}]: duplicate category id {cat["id"]}')
        else:
            seen.add(cat['id'])
    if problems:
        raise ValueError(f'{name}: {len(problems)} of {len(data["categories"])} category '
                         f'entries are bad:{_listed(problems, len(problems))}')


def check_class_names(data: Dict[str, Any], name: str, classes: Sequence[str]) -> None:
    """Every class a config selects must be a category name of the file.

    mmdet maps class names to category ids and silently leaves out names it does not find;
    a misspelt class then has no annotation at all and the labels of the others shift.

    Raises:
        ValueError: naming the missing classes, the file and its category names.
    """
    names = [cat['name'] for cat in data['categories']]
    missing = [c for c in classes if c not in names]
    if missing:
        raise ValueError(f'{name}: class(es) {missing} of the data set\'s metainfo are not '
                         f'category names of the file ({names})')


def _polygon_coords(part: Any) -> Optional[np.ndarray]:
    """A polygon part as a 1-d float array, or None if it is not a list of finite numbers."""
    if not isinstance(part, list):
        return None
    try:
        coords = np.asarray(part)
    except ValueError:  # ragged nesting
        return None
    if coords.ndim != 1 or coords.dtype.kind not in 'iuf' or not np.isfinite(coords).all():
        return None
    return coords.astype(np.float64, copy=False)


def _polygon_area(coords: np.ndarray) -> float:
    """The shoelace formula over the closed polygon ``x0, y0, x1, y1, ...``."""
    x, y = coords[0::2], coords[1::2]
    twice = np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]) + x[-1] * y[0] - x[0] * y[-1]
    return 0.5 * abs(float(twice))


def _segmentation_problem(seg: Any, height: float, width: float) -> Optional[tuple]:
    if seg is None or (isinstance(seg, (list, dict)) and not seg):
        return NO_SEGMENTATION, f'segmentation {seg!r}'
    if isinstance(seg, dict):
        counts, size = seg.get('counts'), seg.get('size')
        if not isinstance(counts, (list, str)) or not isinstance(size, (list, tuple)) \
                or len(size) != 2 or not all(map(_is_number, size)):
            return BAD_RLE, f'keys {sorted(seg)}, size {size!r:.40}'
        if [int(v) for v in size] != [int(height), int(width)]:
            return BAD_RLE, f'size {list(size)}, image {int(height)}x{int(width)} (HxW)'
        return None
    if not isinstance(seg, list):
        return UNKNOWN_SEGMENTATION, f'{type(seg).__name__} {seg!r:.60}'
    area = 0.0
    for k, part in enumerate(seg):
        coords = _polygon_coords(part)
        if coords is None:
            return BAD_POLYGON, f'part {k} is not a list of finite numbers: {part!r:.60}'
        if len(coords) % 2 or len(coords) < 6:
            return BAD_POLYGON, f'part {k} has {len(coords)} coordinates'
        area += _polygon_area(coords)
    if area < MIN_POLYGON_AREA:
        return ZERO_AREA_POLYGON, f'area {area:.3g} of {len(seg)} part(s), first {seg[0]!r:.80}'
    return None


def _annotation_problem(ann: Any, images: Dict[Any, dict], cat_ids: set,
                        check_masks: bool) -> Optional[tuple]:
    if not isinstance(ann, dict):
        return NOT_AN_OBJECT, f'{ann!r:.80}'
    if 'id' not in ann:
        return NO_ID, f'keys {sorted(ann)}'
    image = images.get(_key(ann.get('image_id')))
    if image is None:
        return UNKNOWN_IMAGE, f'image_id {ann.get("image_id")!r}'
    if _key(ann.get('category_id')) not in cat_ids:
        return UNKNOWN_CATEGORY, f'category_id {ann.get("category_id")!r}, categories ' \
            f'{sorted(cat_ids)}'
    box = ann.get('bbox')
    if not isinstance(box, (list, tuple)) or len(box) != 4 or not all(map(_is_number, box)):
        return BAD_BBOX, f'bbox {box!r:.80}'
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return EMPTY_BOX, f'bbox [x, y, w, h] = {list(box)}'
    height, width = image['height'], image['width']
    if x + w <= 0 or y + h <= 0 or x >= width or y >= height:
        return BOX_OUTSIDE, f'bbox [x, y, w, h] = {list(box)}, image {width}x{height} (WxH)'
    area = ann.get('area')
    if not _is_number(area) or area <= 0:
        return BAD_AREA, f'area {area!r}'
    if check_masks:
        return _segmentation_problem(ann.get('segmentation'), height, width)
    return None


def find_bad_annotations(data: Dict[str, Any], check_masks: bool) -> List[BadAnnotation]:
    """Every bad annotation of a structurally sound COCO file (:func:`check_coco_structure`).

    Checked, in this order (one finding per annotation, the first that applies): the entry is
    an object with an ``id``; its ``image_id`` is an image of the file; its ``category_id`` is
    in ``categories``; ``bbox`` is 4 finite numbers with width and height > 0 and overlaps
    its image; ``area`` is a positive number. With ``check_masks``: ``segmentation`` is
    present and not empty, and it is either polygons (every part an even number, at least 6,
    of finite coordinates; all parts together of non-zero area) or an RLE with ``counts``
    and a ``size`` equal to its image's height and width. Crowd annotations get the same
    checks (mmdet keeps them as ignored regions). Boxes under 1 px wide or high pass: mmdet
    drops them, as it always has.

    Args:
        data (dict): the parsed file.
        check_masks (bool): whether the pipeline loads masks, so every annotation needs a
            usable segmentation (box-only COCO files, e.g. converted from VOC, hold
            ``segmentation: []``).

    Returns:
        list[BadAnnotation]: in file order.
    """
    images = {img['id']: img for img in data['images']}
    file_names = {img['id']: img['file_name'] for img in data['images']}
    cat_ids = {cat['id'] for cat in data['categories']}
    bad = []
    for i, ann in enumerate(data.get('annotations') or []):
        problem = _annotation_problem(ann, images, cat_ids, check_masks)
        if problem is not None:
            ann = ann if isinstance(ann, dict) else {}
            bad.append(BadAnnotation(index=i, ann_id=ann.get('id'),
                                     file_name=file_names.get(_key(ann.get('image_id'))),
                                     kind=problem[0], detail=problem[1]))
    return bad


def summarize_kinds(bad: Sequence[BadAnnotation]) -> str:
    """``<kind>: <number>, ...`` in order of first appearance."""
    counts: Dict[str, int] = {}
    for item in bad:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return ', '.join(f'{kind}: {n}' for kind, n in counts.items())


def list_bad_annotations(bad: Sequence[BadAnnotation]) -> str:
    """The first :data:`MAX_LISTED` described, one per indented line, and how many more."""
    return _listed([b.describe() for b in bad[:MAX_LISTED]], len(bad))


def describe_bad_annotations(bad: Sequence[BadAnnotation], total: int, name: str) -> str:
    """``<file>: N of M annotations are bad (<kind>: n, ...):`` and the first ones listed."""
    return f'{name}: {len(bad)} of {total} annotations are bad ({summarize_kinds(bad)}):' \
        f'{list_bad_annotations(bad)}'


def drop_annotations(data: Dict[str, Any], bad: Sequence[BadAnnotation]) -> Dict[str, Any]:
    """A shallow copy of ``data`` whose ``annotations`` lack the bad ones."""
    drop = {b.index for b in bad}
    anns = data.get('annotations') or []
    return dict(data, annotations=[a for i, a in enumerate(anns) if i not in drop])
