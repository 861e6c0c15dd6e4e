"""Detections and ground-truth boxes drawn on ON / OFF event frames, as PNG.

Each sample is its frames ``(T, P, H, W)`` (as :class:`mmsdt.datasets.events.EventsToFrames`
and the detection packing give them), drawn summed over T with
:func:`~.events.event_frame_rgb` (red ON, blue OFF, white without events). Ground-truth boxes
are dashed black; a detection is a solid box in its class colour with ``class score`` above
it. Boxes are ``xyxy`` in pixels of the frame.
"""
from typing import Dict, Optional, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.patches import Rectangle

from .charts import new_figure, save_figure
from .events import _check_frames, event_frame_rgb

GT_COLOUR = 'black'


def class_colours(num_classes: int) -> list:
    """One RGBA colour per class (matplotlib's ``Dark2``, neither red nor blue first, so they
    stand out from the ON / OFF colours)."""
    cmap = colormaps['Dark2']
    return [cmap(i % cmap.N) for i in range(num_classes)]


def _boxes(item: Optional[Dict[str, np.ndarray]], where: str, index: int,
           with_scores: bool) -> tuple:
    """``(bboxes (N, 4), labels (N,), scores (N,) or None)`` of one sample's dict."""
    if item is None:
        return np.zeros((0, 4)), np.zeros(0, np.int64), (np.zeros(0) if with_scores else None)
    bboxes = np.asarray(item['bboxes'], np.float64).reshape(-1, 4) if len(
        item['bboxes']) else np.zeros((0, 4))
    labels = np.asarray(item['labels'], np.int64).reshape(-1)
    scores = np.asarray(item['scores'], np.float64).reshape(-1) if with_scores else None
    if labels.shape[0] != bboxes.shape[0] or (with_scores and scores.shape[0] != bboxes.shape[0]):
        raise ValueError(f'{where}: sample {index} has {bboxes.shape[0]} boxes, '
                         f'{labels.shape[0]} labels' +
                         (f' and {scores.shape[0]} scores' if with_scores else '') +
                         '; expected one of each per box')
    return bboxes, labels, scores


def draw_boxes_on_events(ax, frames: np.ndarray, prediction: Optional[Dict[str, np.ndarray]],
                         ground_truth: Optional[Dict[str, np.ndarray]], classes: Sequence[str],
                         score_thr: float = 0.3, index: int = 0) -> int:
    """Draw one sample's event frames ``(T, P, H, W)``, its ground truth (dashed) and its
    detections with score >= ``score_thr`` (solid, labelled) on the matplotlib axes ``ax``.

    Returns:
        int: the number of detections drawn.
    """
    where = 'draw_event_detections'
    gt_boxes, _, _ = _boxes(ground_truth, where, index, with_scores=False)
    boxes, labels, scores = _boxes(prediction, where, index, with_scores=True)
    if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f'{where}: sample {index} has label {int(labels.max())} outside the '
                         f'{len(classes)} classes {list(classes)}')
    ax.imshow(event_frame_rgb(np.asarray(frames).sum(0)), interpolation='nearest')
    ax.set_xticks([])
    ax.set_yticks([])
    for x1, y1, x2, y2 in gt_boxes:
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                               edgecolor=GT_COLOUR, linestyle='--', linewidth=0.8))
    colours = class_colours(len(classes))
    keep = np.flatnonzero(scores >= score_thr)
    for i in keep[np.argsort(scores[keep])]:  # the best drawn last, on top
        x1, y1, x2, y2 = boxes[i]
        colour = colours[int(labels[i])]
        ax.add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                               edgecolor=colour, linewidth=1.2))
        ax.text(x1 - 0.5, y1 - 1.5, f'{classes[int(labels[i])]} {scores[i]:.2f}', fontsize=5,
                color='white', bbox=dict(facecolor=colour, edgecolor='none', pad=0.5))
    return int(keep.size)


def draw_event_detections(path: str, frames: Sequence[np.ndarray],
                          predictions: Sequence[Optional[Dict[str, np.ndarray]]],
                          ground_truths: Sequence[Optional[Dict[str, np.ndarray]]],
                          classes: Sequence[str], title: str, score_thr: float = 0.3,
                          captions: Optional[Sequence[str]] = None, columns: int = 4) -> str:
    """A grid of samples, each its summed ON / OFF event frames with ground truth and
    detections (:func:`draw_boxes_on_events`); written as PNG to ``path``, which is returned.

    Args:
        path (str): the PNG file.
        frames (list[numpy.ndarray]): per sample ``(T, P, H, W)`` (P = 2: OFF, ON).
        predictions (list[dict | None]): per sample ``bboxes`` ``(N, 4)`` xyxy, ``scores``
            ``(N,)`` and ``labels`` ``(N,)`` (None: no detections).
        ground_truths (list[dict | None]): per sample ``bboxes`` and ``labels``.
        classes (list[str]): class names, indexed by the labels.
        title (str): the picture's title.
        score_thr (float): the least score of a drawn detection.
        captions (list[str], optional): a caption per sample (e.g. recording and time).
        columns (int): samples per row.
    """
    samples = _check_frames(frames, 'draw_event_detections')
    counts = [len(samples), len(predictions), len(ground_truths)]
    if captions is not None:
        counts.append(len(captions))
    if len(set(counts)) != 1:
        raise ValueError(f'draw_event_detections: {counts[0]} samples, {counts[1]} predictions, '
                         f'{counts[2]} ground truths' +
                         (f' and {counts[3]} captions' if captions is not None else '') +
                         '; one of each per sample')
    cols = min(columns, len(samples))
    rows = -(-len(samples) // cols)
    height, width = samples[0].shape[-2:]
    panel = 2.4 * height / max(width, height), 2.4 * width / max(width, height)
    fig = new_figure(panel[1] * cols + 0.4, (panel[0] + 0.3) * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    for i, (ax, sample, pred, truth) in enumerate(
            zip(axes.flat, samples, predictions, ground_truths)):
        ax.axis('on')
        draw_boxes_on_events(ax, sample, pred, truth, classes, score_thr, index=i)
        if captions is not None:
            ax.set_title(captions[i], fontsize=6)
    handles = [Rectangle((0, 0), 1, 1, fill=False, edgecolor=c, linewidth=1.2)
               for c in class_colours(len(classes))]
    handles.append(Rectangle((0, 0), 1, 1, fill=False, edgecolor=GT_COLOUR, linestyle='--'))
    fig.legend(handles, list(classes) + ['ground truth'], loc='lower center',
               ncol=len(handles), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 0.95))
    return save_figure(fig, path, dpi=150)
