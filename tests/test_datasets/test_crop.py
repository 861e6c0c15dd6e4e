"""mmsdt.CheckedRandomCrop: mmpretrain's RandomCrop where the image covers the crop, and a
padded / resized / refused image (with a warning) where it does not."""
import numpy as np
import pytest
from mmpretrain.datasets.transforms import RandomCrop

from mmsdt.datasets import CheckedRandomCrop
from mmsdt.datasets import crop as crop_module


def _image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def warnings_logged(monkeypatch):
    """The warnings the transform logs (and a fresh 'already reported' set)."""
    logged = []
    monkeypatch.setattr(crop_module, '_REPORTED', set())
    monkeypatch.setattr(crop_module, 'print_log', lambda msg, **kw: logged.append(msg))
    return logged


@pytest.mark.parametrize('padding', [None, 4, (2, 3), (1, 2, 3, 4)])
def test_image_that_covers_the_crop_is_cropped_as_by_mmpretrain(padding, warnings_logged):
    img = _image(64, 64)
    for seed in range(5):
        np.random.seed(seed)
        ours = CheckedRandomCrop(64, padding=padding, padding_mode='reflect')(dict(img=img))
        np.random.seed(seed)
        stock = RandomCrop(64, padding=padding, padding_mode='reflect')(dict(img=img.copy()))
        assert ours['img'].shape == (64, 64, 3)
        assert np.array_equal(ours['img'], stock['img']) and ours['img_shape'] == (64, 64, 3)
    assert not warnings_logged


def test_smaller_image_is_padded_to_the_crop_and_reported_once(warnings_logged):
    img = _image(32, 32)
    # the stock transform leaves the padded 40x40 image: a crop larger than it does nothing
    assert RandomCrop(64, padding=4)(dict(img=img))['img'].shape == (40, 40, 3)
    crop = CheckedRandomCrop(64, padding=4, padding_mode='reflect')
    for _ in range(3):
        out = crop(dict(img=img))['img']
        assert out.shape == (64, 64, 3)
    assert len(warnings_logged) == 1
    assert 'a 32x32 image (40x40 after padding 4) is smaller than crop_size 64x64: padded by ' \
        '24x24 (reflect)' in warnings_logged[0]
    # the original pixels are all there (crop offsets fall inside the 4 px border only)
    found = any(np.array_equal(out[y:y + 32, x:x + 32], img)
                for y in range(33) for x in range(33))
    assert found


def test_smaller_image_resized_keeps_its_aspect_ratio(warnings_logged):
    out = CheckedRandomCrop(48, if_smaller='resize')(dict(img=_image(24, 12)))['img']
    assert out.shape == (48, 48, 3)
    assert 'a 24x12 image (24x12 after padding None) is smaller than crop_size 48x48: resized ' \
        'to 96x48' in warnings_logged[0]


def test_smaller_image_can_be_refused():
    with pytest.raises(ValueError, match=r'a 30x30 image \(38x38 after padding 4\) is smaller '
                       r'than crop_size 64x64 \(a\.png\)'):
        CheckedRandomCrop(64, padding=4, if_smaller='error')(
            dict(img=_image(30, 30), img_path='a.png'))
    with pytest.raises(ValueError, match='if_smaller must be'):
        CheckedRandomCrop(64, if_smaller='ignore')
