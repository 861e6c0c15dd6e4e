"""A COCO data set that checks its annotation file when it is loaded (needs mmdet)."""
import logging
from typing import Any, Dict, List, Optional

from mmdet.datasets import CocoDataset
from mmdet.datasets.api_wrappers import COCO
from mmengine.logging import print_log

from mmsdt.registry import DATASETS
from .coco_checks import (BAD_ANNOTATION_POLICIES, check_class_names, check_coco_structure,
                          describe_bad_annotations, drop_annotations, find_bad_annotations,
                          list_bad_annotations, read_coco_json, summarize_kinds)


def coco_index(data: Dict[str, Any]) -> COCO:
    """mmdet's COCO API object over an already parsed (and checked) annotation file."""
    coco = COCO()
    coco.dataset = data
    coco.createIndex()
    # mmdet's aliases point at the dicts that createIndex has just replaced
    coco.img_ann_map, coco.cat_img_map = coco.imgToAnns, coco.catToImgs
    return coco


@DATASETS.register_module()
class CheckedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` that checks every image and annotation when it loads the file.

    For a valid file it reads the same file and gives the same ``data_list`` as
    ``CocoDataset``. What stock mmdet drops silently or fails on far from the data becomes an
    error that names the annotation file, the annotation id and its image's file name
    (:mod:`mmsdt.datasets.coco_checks`):

    - always an error: a truncated or otherwise invalid JSON file; ``images`` /
      ``categories`` missing or ``images`` empty; no annotations in a training set
      (``test_mode=False``); an image entry without ``file_name`` or a positive
      ``height`` / ``width``; duplicate image or category ids; a class of the metainfo that
      is not a category name of the file; no image left after ``filter_cfg``;
    - bad annotations, all counted, the first 10 listed: ``category_id`` not in
      ``categories``, unknown ``image_id``, ``bbox`` not 4 finite numbers, width or height
      <= 0 or outside the image, ``area`` missing or <= 0, and, when masks are loaded, an
      empty or missing ``segmentation`` (mmdet's ``KeyError: 'mask'``), polygons with fewer
      than 3 points or an odd number of coordinates, zero-area polygons, RLEs of another
      size than their image. By default they stop the run; with ``bad_annotations='skip'``
      they are dropped and their number per kind is logged.

    Crowd annotations are checked alike and stay ignored regions, as in stock mmdet; boxes
    under 1 px wide or high are still dropped silently, as in stock mmdet. An image whose
    decoded size differs from its entry's ``height`` / ``width`` is caught in the pipeline by
    :class:`mmsdt.datasets.CheckImageSize` (reading 118k image headers here would slow every
    start).

    Args:
        bad_annotations (str): ``'raise'`` (default) or ``'skip'``.
        check_masks (bool, optional): whether annotations need a usable segmentation. None
            (default): when the data set's pipeline loads masks (a transform with
            ``with_mask=True``, i.e. ``LoadAnnotations``); box-only files such as those
            converted from VOC hold ``segmentation: []``.
        *args, **kwargs: those of mmdet's ``CocoDataset``.
    """

    def __init__(self, *args, bad_annotations: str = 'raise', check_masks: Optional[bool] = None,
                 **kwargs):
        if bad_annotations not in BAD_ANNOTATION_POLICIES:
            raise ValueError(f'CheckedCocoDataset: bad_annotations must be one of '
                             f'{BAD_ANNOTATION_POLICIES}, got {bad_annotations!r}')
        self.bad_annotations = bad_annotations
        self.check_masks = check_masks
        super().__init__(*args, **kwargs)

    def loads_masks(self) -> bool:
        """Whether the annotations are checked for masks (``check_masks`` or the pipeline)."""
        if self.check_masks is not None:
            return bool(self.check_masks)
        return any(getattr(t, 'with_mask', False) is True for t in self.pipeline.transforms)

    # CocoDataset.load_data_list builds its index with ``self.COCOAPI(local_path)``; this
    # method replaces the class there, so the stock loop runs on the checked annotations.
    def COCOAPI(self, local_path: str) -> COCO:  # noqa: N802
        """Read ``local_path`` (the local copy of ``self.ann_file``), check it, drop or stop
        on bad annotations, and index it."""
        name = self.ann_file
        data = read_coco_json(local_path, name)
        check_coco_structure(data, name, need_annotations=not self.test_mode)
        check_class_names(data, name, self.metainfo['classes'])
        bad = find_bad_annotations(data, check_masks=self.loads_masks())
        if bad:
            total = len(data['annotations'])
            if self.bad_annotations == 'raise':
                raise ValueError(f"{describe_bad_annotations(bad, total, name)}\nFix the file, "
                                 f"or drop them with bad_annotations='skip' in the data set's "
                                 f"config (they are then counted in the log).")
            data = drop_annotations(data, bad)
            print_log(f"{name}: skipped {len(bad)} of {total} annotations "
                      f"({summarize_kinds(bad)}) (bad_annotations='skip'):"
                      f"{list_bad_annotations(bad)}", logger='current', level=logging.WARNING)
            if not data['annotations'] and not self.test_mode:
                raise ValueError(f'{name}: no annotations left after skipping the bad ones')
        return coco_index(data)

    def filter_data(self) -> List[dict]:
        """mmdet's filter, and an error naming the file when it leaves no image (mmengine
        would fail later with "need at least one array to concatenate")."""
        data_list = super().filter_data()
        if not data_list and self.data_list:
            raise ValueError(f'{self.ann_file}: filter_cfg={self.filter_cfg} leaves none of its '
                             f'{len(self.data_list)} images (filter_empty_gt drops images '
                             f'without an annotation of the classes '
                             f'{tuple(self.metainfo["classes"])}, min_size smaller images)')
        return data_list
