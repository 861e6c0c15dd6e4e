"""Event frames as pictures: ON / OFF colouring, a prediction grid and time-step strips.

Frames are the ``(T, P, H, W)`` arrays of :class:`mmsdt.datasets.events.EventsToFrames`
(channel 0 OFF, channel 1 ON; one merged channel is drawn in grey). A pixel is white where no
event fell, red with ON events, blue with OFF events (purple with both), the colour's
strength growing with the count up to ``vmax``.
"""
from typing import Optional, Sequence

import numpy as np

from .charts import new_figure, save_figure
from .grids import draw_image_grid

ON_RGB = np.array([1.0, 0.1, 0.1])
OFF_RGB = np.array([0.1, 0.25, 1.0])


def event_frame_rgb(frame: np.ndarray, vmax: Optional[float] = None) -> np.ndarray:
    """An RGB uint8 picture ``(H, W, 3)`` of one frame ``(P, H, W)`` (P = 2: OFF, ON; P = 1:
    merged counts in grey).

    Args:
        frame (numpy.ndarray): counts (or binary / clamped values) of one time step, or
            summed over the steps.
        vmax (float, optional): the count drawn at full colour; default the 99th percentile
            of the non-zero values (at least 1).
    """
    frame = np.asarray(frame, np.float64)
    if frame.ndim != 3 or frame.shape[0] not in (1, 2):
        raise ValueError(f'event_frame_rgb: expected a frame (P, H, W) with P = 1 or 2, got '
                         f'shape {frame.shape}')
    if vmax is None:
        nonzero = frame[frame > 0]
        vmax = max(1.0, float(np.percentile(nonzero, 99))) if nonzero.size else 1.0
    level = np.clip(frame / vmax, 0.0, 1.0)
    if frame.shape[0] == 1:
        grey = 1.0 - level[0]
        return (np.repeat(grey[..., None], 3, -1) * 255).round().astype(np.uint8)
    off, on = level[0][..., None], level[1][..., None]
    # each polarity pulls the white pixel towards its colour; both together mix
    rgb = 1.0 - on * (1.0 - ON_RGB) - off * (1.0 - OFF_RGB)
    return (np.clip(rgb, 0.0, 1.0) * 255).round().astype(np.uint8)


def _check_frames(samples: Sequence[np.ndarray], where: str) -> list:
    out = [np.asarray(s) for s in samples]
    if not out:
        raise ValueError(f'{where}: no samples to draw')
    for i, s in enumerate(out):
        if s.ndim != 4:
            raise ValueError(f'{where}: sample {i} has shape {s.shape}; expected frames '
                             f'(T, P, H, W)')
    return out


def draw_event_grid(path: str, samples: Sequence[np.ndarray], captions: Sequence[str],
                    correct: Sequence[bool], title: str, columns: int = 8) -> str:
    """A grid of samples ``(T, P, H, W)``, each drawn summed over its T frames, with its
    caption in green (``correct``) or red; written as PNG to ``path``, which is returned."""
    samples = _check_frames(samples, 'draw_event_grid')
    images = [event_frame_rgb(s.sum(0)) for s in samples]
    return draw_image_grid(path, images, captions, correct, title, columns)


def draw_event_time_steps(path: str, samples: Sequence[np.ndarray], labels: Sequence[str],
                          title: str) -> str:
    """One row per sample ``(T, P, H, W)``: its T frames side by side (one colour scale per
    row), the row's label on the left; written as PNG to ``path``, which is returned."""
    samples = _check_frames(samples, 'draw_event_time_steps')
    if len(labels) != len(samples):
        raise ValueError(f'draw_event_time_steps: {len(samples)} samples and {len(labels)} '
                         f'labels; one of each per row')
    steps = max(s.shape[0] for s in samples)
    fig = new_figure(1.4 * steps + 0.6, 1.5 * len(samples) + 0.5)
    axes = fig.subplots(len(samples), steps, squeeze=False)
    for row, (sample, label) in enumerate(zip(samples, labels)):
        nonzero = sample[sample > 0]
        vmax = max(1.0, float(np.percentile(nonzero, 99))) if nonzero.size else 1.0
        for t in range(steps):
            ax = axes[row, t]
            ax.set_xticks([])
            ax.set_yticks([])
            if t < sample.shape[0]:
                ax.imshow(event_frame_rgb(sample[t], vmax), interpolation='nearest')
            if row == 0:
                ax.set_title(f't = {t}', fontsize=8)
        axes[row, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
