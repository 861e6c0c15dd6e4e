"""File plumbing of the toy-data writers (mmsdt.datasets.toy.fileio)."""
import os

import numpy as np
import pytest

from mmsdt.datasets.toy import fileio


def test_clear_generated_removes_only_our_names(tmp_path):
    names = ['000000.jpg', '000123.jpg', '000001.png', '12345.jpg', 'notes.jpg', 'a00000.jpg']
    for name in names:
        (tmp_path / name).write_bytes(b'x')
    fileio.clear_generated(str(tmp_path), '.jpg')
    assert sorted(os.listdir(tmp_path)) == ['000001.png', '12345.jpg', 'a00000.jpg',
                                            'notes.jpg']
    fileio.clear_generated(str(tmp_path / 'missing'), '.jpg')  # no folder: nothing to do


def test_marker_round_trip_and_broken_marker(tmp_path):
    path = str(tmp_path / '.complete')
    assert fileio.read_marker(path) is None
    fileio.write_json(path, dict(seed=3, b=[1, 2]))
    assert fileio.read_marker(path) == dict(seed=3, b=[1, 2])
    assert open(path).read() == '{"seed":3,"b":[1,2]}'  # fixed compact layout, key order kept
    assert os.listdir(tmp_path) == ['.complete']  # the temporary file is gone
    with open(path, 'w') as f:
        f.write('{"seed": 3')  # cut short
    assert fileio.read_marker(path) is None


def test_image_writers_are_deterministic_and_fail_loudly(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a, b = str(tmp_path / 'a.jpg'), str(tmp_path / 'b.jpg')
    fileio.write_jpeg(a, image)
    fileio.write_jpeg(b, image)
    assert open(a, 'rb').read() == open(b, 'rb').read()
    fileio.write_png(str(tmp_path / 'l.png'), image[..., 0])
    with pytest.raises(OSError, match='could not write'):
        fileio.write_jpeg(str(tmp_path / 'no_such_dir' / 'x.jpg'), image)


@pytest.mark.parametrize('kwargs', [dict(num_train=-1), dict(num_val=2.5), dict(seed=-1)])
def test_check_split_args(kwargs):
    args = {**dict(num_train=1, num_val=1, seed=0), **kwargs}
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        fileio.check_split_args(**args)
    fileio.check_split_args(1, 0, 7)
