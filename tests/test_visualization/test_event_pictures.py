"""Event frames as pictures (mmsdt/visualization/events.py): colours of ON / OFF / empty
pixels, the prediction grid and the time-step strips."""
import cv2
import numpy as np
import pytest

from mmsdt.visualization import draw_event_grid, draw_event_time_steps, event_frame_rgb


def test_on_red_off_blue_empty_white():
    frame = np.zeros((2, 3, 4), np.float32)  # channel 0 OFF, channel 1 ON
    frame[1, 0, 0] = 4  # ON
    frame[0, 1, 1] = 4  # OFF
    frame[:, 2, 2] = 4  # both
    frame[1, 0, 3] = 1  # a weaker ON
    rgb = event_frame_rgb(frame, vmax=4)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert rgb[2, 0].tolist() == [255, 255, 255]
    r, g, b = rgb[0, 0].astype(int)
    assert r > 200 and g < 60 and b < 60
    r, g, b = rgb[1, 1].astype(int)
    assert b > 200 and r < 60
    r, g, b = rgb[2, 2].astype(int)
    assert g == 0 and r < 255 and b < 255  # mixed
    assert rgb[0, 3, 0] > 200 and rgb[0, 3, 1] > rgb[0, 0, 1]  # one ON event: paler red
    grey = event_frame_rgb(frame[:1], vmax=4)
    assert grey[1, 1].tolist() == [0, 0, 0] and grey[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match=r'\(P, H, W\)'):
        event_frame_rgb(np.zeros((3, 4, 4)))


def test_grid_and_time_steps_written(tmp_path):
    rng = np.random.default_rng(0)
    samples = [rng.poisson(0.3, (4, 2, 16, 16)).astype(np.float32) for _ in range(3)]
    grid = draw_event_grid(str(tmp_path / 'grid.png'), samples, ['a\n(true: a)'] * 3,
                           [True, False, True], 'title')
    strips = draw_event_time_steps(str(tmp_path / 'steps.png'), samples[:2], ['a', 'b'], 't')
    for path in (grid, strips):
        image = cv2.imread(path)
        assert image is not None and image.shape[0] > 50
    # four columns of frames: the strip picture is wider than tall for two rows
    strip = cv2.imread(strips)
    assert strip.shape[1] > strip.shape[0]
    with pytest.raises(ValueError, match=r'\(T, P, H, W\)'):
        draw_event_grid(str(tmp_path / 'x.png'), [np.zeros((2, 16, 16))], ['a'], [True], 't')
    with pytest.raises(ValueError, match='labels'):
        draw_event_time_steps(str(tmp_path / 'x.png'), samples, ['a'], 't')
