"""mmsdt.visualization: PNG pictures drawn without switching matplotlib's global backend."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmsdt.visualization import draw_image_grid, draw_layer_bars

REPO = Path(__file__).resolve().parents[2]


def test_importing_training_code_keeps_the_users_backend(tmp_path):
    code = ('import matplotlib; matplotlib.use("svg")\n'
            'import mmsdt.engine.hooks.firing_rate_hook\n'
            'from mmsdt.visualization import draw_layer_bars\n'
            f'draw_layer_bars({str(tmp_path / "a.png")!r}, ["x"], [1.0], ["g"], "x", "t")\n'
            'print(matplotlib.get_backend())\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-1] == 'svg'
    assert cv2.imread(str(tmp_path / 'a.png')) is not None


def test_layer_bars_grow_with_the_layers(tmp_path):
    few = draw_layer_bars(str(tmp_path / 'few.png'), ['a', 'b'], [0.1, 0.2], ['s0', 's1'],
                          'rate', 'two')
    many = draw_layer_bars(str(tmp_path / 'sub' / 'many.png'), [f'l{i}' for i in range(80)],
                           list(np.linspace(0, 1, 80)), ['s0'] * 40 + ['s1'] * 40, 'rate',
                           'eighty')
    small, large = cv2.imread(few), cv2.imread(many)
    assert small.shape[1] == large.shape[1] and large.shape[0] > 2 * small.shape[0]
    with pytest.raises(ValueError, match='2 names, 1 values'):
        draw_layer_bars(str(tmp_path / 'x.png'), ['a', 'b'], [0.1], ['s0', 's0'], 'r', 't')


def test_image_grid_rows_and_caption_colours(tmp_path):
    images = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(5)]
    path = draw_image_grid(str(tmp_path / 'grid.png'), images, [f'c{i}\n(t)' for i in range(5)],
                           [True, False, True, True, False], 'grid', columns=2)
    grid = cv2.imread(path)  # BGR
    assert grid is not None and grid.shape[0] > grid.shape[1]  # 3 rows of 2
    red = (grid[..., 2] > 180) & (grid[..., 1] < 80) & (grid[..., 0] < 80)
    green = (grid[..., 1] > 90) & (grid[..., 2] < 60) & (grid[..., 0] < 60)
    assert red.any() and green.any()  # wrong and right captions
    with pytest.raises(ValueError, match='no images'):
        draw_image_grid(str(tmp_path / 'none.png'), [], [], [], 'empty')
