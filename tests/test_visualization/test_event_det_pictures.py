"""Detections on ON / OFF event frames (mmsdt/visualization/event_det.py): boxes in class
colours above the score threshold, ground truth dashed, errors naming the mismatch."""
import cv2
import numpy as np
import pytest

from mmsdt.visualization.charts import new_figure
from mmsdt.visualization.event_det import (class_colours, draw_boxes_on_events,
                                           draw_event_detections)

CLASSES = ('car', 'pedestrian')


def _sample():
    frames = np.zeros((2, 2, 48, 64), np.float32)
    frames[1, 1, 10:20, 10:30] = 3  # ON events where the car is
    prediction = dict(bboxes=np.array([[10., 10., 30., 20.], [40., 5., 50., 40.]]),
                      scores=np.array([0.9, 0.1]), labels=np.array([0, 1]))
    truth = dict(bboxes=np.array([[10., 10., 30., 20.]]), labels=np.array([0]))
    return frames, prediction, truth


def test_only_detections_above_the_threshold_are_drawn():
    frames, prediction, truth = _sample()
    fig = new_figure(2, 2)
    ax = fig.subplots()
    assert draw_boxes_on_events(ax, frames, prediction, truth, CLASSES, score_thr=0.3) == 1
    edges = [p.get_edgecolor() for p in ax.patches]
    assert len(ax.patches) == 2  # the ground truth and one detection
    assert tuple(edges[1]) == tuple(class_colours(2)[0])
    assert ax.patches[0].get_linestyle() == '--' and ax.texts[0].get_text() == 'car 0.90'
    ax2 = new_figure(2, 2).subplots()
    assert draw_boxes_on_events(ax2, frames, prediction, None, CLASSES, score_thr=0.05) == 2
    # no ground truth: both boxes solid in their class colours, the best drawn last
    assert [tuple(p.get_edgecolor()) for p in ax2.patches] == [tuple(c) for c in
                                                               class_colours(2)[::-1]]
    assert all(p.get_linestyle() in ('-', 'solid') for p in ax2.patches)


def test_picture_written_with_boxes(tmp_path):
    frames, prediction, truth = _sample()
    path = draw_event_detections(str(tmp_path / 'det.png'), [frames, frames],
                                 [prediction, None], [truth, truth], CLASSES, 'title',
                                 captions=['a @ 0.60 s', 'b @ 0.70 s'])
    image = cv2.imread(path)
    assert image is not None and image.shape[1] > image.shape[0]
    # the car colour (Dark2 green, BGR) is drawn somewhere in the picture
    green = (np.array(class_colours(2)[0][:3]) * 255)[::-1]
    assert (np.abs(image.astype(float) - green).sum(-1) < 40).sum() > 20


def test_mismatches_are_named(tmp_path):
    frames, prediction, truth = _sample()
    with pytest.raises(ValueError, match='2 samples, 1 predictions'):
        draw_event_detections(str(tmp_path / 'x.png'), [frames, frames], [prediction],
                              [truth, truth], CLASSES, 't')
    bad = dict(prediction, labels=np.array([0]))
    with pytest.raises(ValueError, match='sample 0 has 2 boxes, 1 labels'):
        draw_event_detections(str(tmp_path / 'x.png'), [frames], [bad], [truth], CLASSES, 't')
    bad = dict(prediction, labels=np.array([0, 2]))
    with pytest.raises(ValueError, match='label 2 outside the 2 classes'):
        draw_event_detections(str(tmp_path / 'x.png'), [frames], [bad], [truth], CLASSES, 't')
    with pytest.raises(ValueError, match=r'\(T, P, H, W\)'):
        draw_event_detections(str(tmp_path / 'x.png'), [frames[0]], [prediction], [truth],
                              CLASSES, 't')
