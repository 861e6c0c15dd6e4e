"""Deterministic toy data sets (no downloads) for detection, segmentation and classification.

* :mod:`.scene` renders a scene: a textured background with 1-5 circles, squares and
  triangles painted in order (later shapes occlude earlier ones), each image from its own
  seeded generator; :func:`toy_scene` is one such image for tools that need no data set.
* :mod:`.annotation` turns rendered masks into COCO polygons, boxes and instances and into
  ADE-style label maps.
* :mod:`.coco` (:func:`generate_toy_coco`) and :mod:`.ade` (:func:`generate_toy_ade`) write
  the two dense data sets and :mod:`.cls` (:func:`generate_toy_cls`) a classification set
  of six shape / texture classes in the ImageNet folder layout; :mod:`.events`
  (:func:`generate_toy_dvs`) an event-camera set of eight motion classes (moving textured
  shapes through the DVS emulator) in the N-MNIST layout; :mod:`.event_det`
  (:func:`generate_toy_event_det`) an event detection set (moving cars and pedestrians
  through the DVS emulator, boxes from the renderer) in the Gen1 layout; :mod:`.fileio` holds their
  markers and fixed-setting file writers. The same arguments always give byte-identical
  files, and a marker file holding the arguments, written last, lets a later identical call
  return at once.

Only numpy, cv2, json and os are used (and mmsdt's event emulator and writer for the event
set), so the package imports without mmdet or mmseg. The command-line front end is
``tools/dataset_converters/make_toy_data.py``.
"""
from .ade import TOY_ADE_CLASSES, generate_toy_ade
from .cls import TOY_CLS_CLASSES, generate_toy_cls, render_toy_cls_image
from .coco import TOY_COCO_CLASSES, generate_toy_coco
from .event_det import TOY_EVENT_DET_CLASSES, generate_toy_event_det
from .events import TOY_DVS_CLASSES, generate_toy_dvs, render_motion_video, toy_dvs_events
from .scene import SHAPE_KINDS, image_rng, render_scene, toy_scene

__all__ = [
    'generate_toy_coco', 'generate_toy_ade', 'generate_toy_cls', 'TOY_COCO_CLASSES',
    'TOY_ADE_CLASSES', 'TOY_CLS_CLASSES', 'render_toy_cls_image',
    'SHAPE_KINDS', 'image_rng', 'render_scene', 'toy_scene', 'generate_toy_dvs',
    'TOY_DVS_CLASSES', 'render_motion_video', 'toy_dvs_events', 'generate_toy_event_det',
    'TOY_EVENT_DET_CLASSES'
]
