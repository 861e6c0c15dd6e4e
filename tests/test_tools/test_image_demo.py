"""tools/demo/image_demo.py on a real photograph, grayscale, RGBA and tiny images."""
import subprocess
import sys
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
PHOTO = Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg'


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('imgs')
    photo = cv2.imread(str(PHOTO))
    assert photo is not None, f'{PHOTO} (a photograph shipped with matplotlib) is missing'
    gray = d / 'gray.png'
    cv2.imwrite(str(gray), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    rgba = d / 'rgba.png'
    cv2.imwrite(str(rgba), np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    tiny = d / 'tiny.png'
    cv2.imwrite(str(tiny), cv2.resize(photo, (20, 15)))
    return dict(photo=PHOTO, gray=gray, rgba=rgba, tiny=tiny)


def test_python_api_on_all_kinds_of_images(images, tmp_path, repo_root):
    from mmsdt.apis import inference_image
    for kind, path in images.items():
        out = inference_image(str(path), CONFIG, out_dir=str(tmp_path / kind))
        drawn = cv2.imread(out)
        assert drawn is not None and drawn.ndim == 3, kind
        src = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert drawn.shape[:2] == src.shape[:2], kind


def test_cli_with_checkpoint_and_errors(tmp_path, mmdet_scope):
    # a checkpoint written by the toy config's model
    import torch
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    import mmsdt.models  # noqa: F401
    cfg = Config.fromfile(str(REPO / CONFIG))
    ckpt = tmp_path / 'toy.pth'
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                    meta=dict(dataset_meta=dict(classes=cfg.classes))), ckpt)
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, 'tools/demo/image_demo.py', str(PHOTO), CONFIG,
                           '--weights', str(ckpt), '--out-dir', str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / 'grace_hopper_pred.png').is_file()
    bad = subprocess.run([sys.executable, 'tools/demo/image_demo.py', str(tmp_path / 'no.jpg'),
                          CONFIG, '--out-dir', str(out)], cwd=REPO, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and 'no.jpg' in bad.stderr


def test_segmentation_config_writes_an_overlay(tmp_path, repo_root):
    from mmsdt.apis import inference_image
    config = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
    out = inference_image(str(PHOTO), config, out_dir=str(tmp_path / 'seg'))
    drawn, src = cv2.imread(out), cv2.imread(str(PHOTO))
    assert drawn.shape == src.shape
    assert not np.array_equal(drawn, src)  # the class colours are blended in
