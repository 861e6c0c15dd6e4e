"""mmsdt.apis.build_inferencer / inference_image: strict loading with the stock Inferencers'
class names, palette and drawings; tiny images on the segmentation demo."""
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
SEG = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
CONFIGS = dict(det=(DET, 'mmdet'), seg=(SEG, 'mmseg'))
# what the stock Inferencers warn when they draw with a randomly initialised model
RANDOM_WEIGHT_WARNINGS = ('weights is None', 'Checkpoint is not loaded')


def stock_inferencer(task, weights):
    """The stock Inferencer of ``task`` loading ``weights`` with mmengine's loader."""
    if task == 'det':
        from mmdet.apis import DetInferencer
        return DetInferencer(model=CONFIGS[task][0], weights=weights, device='cpu',
                             show_progress=False)
    from mmseg.apis import MMSegInferencer
    return MMSegInferencer(model=CONFIGS[task][0], weights=weights, device='cpu')


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Per task a checkpoint with its own class names and palette in ``meta`` (as a runner
    saves it), and one without ``meta``; weights random but seeded, BN statistics that fire."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope
    from torch.nn.modules.batchnorm import _BatchNorm

    import mmsdt.models  # noqa: F401
    folder = tmp_path_factory.mktemp('ckpts')
    paths = {}
    for task, (config, scope) in CONFIGS.items():
        cfg = Config.fromfile(str(REPO / config))
        torch.manual_seed(0)
        with DefaultScope.overwrite_default_scope(scope):
            model = MODELS.build(cfg.model)
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.running_var.fill_(0.5)
                m.bias.data.fill_(0.3)
        n = len(cfg.classes)
        meta = dict(dataset_meta=dict(classes=[f'thing{i}' for i in range(n)],
                                      palette=[(10 * i, 200, 255 - 10 * i) for i in range(n)]))
        paths[task] = folder / f'{task}.pth'
        torch.save(dict(state_dict=model.state_dict(), meta=meta), paths[task])
        paths[task + '-no-meta'] = folder / f'{task}-no-meta.pth'
        torch.save(dict(state_dict=model.state_dict()), paths[task + '-no-meta'])
    return paths


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp('img') / 'scene.png'
    from mmsdt.datasets.toy import image_rng, render_scene
    scene, _ = render_scene(image_rng(0, 'coco', 'val', 0), 96, 128)
    cv2.imwrite(str(path), scene)
    return path


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_strict_inferencer_gives_the_stock_class_names_and_palette(task, checkpoints,
                                                                    repo_root):
    from mmsdt.apis import build_inferencer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        ours = build_inferencer(CONFIGS[task][0], weights=str(checkpoints[task]))
    said = [str(w.message) for w in caught]
    assert not [m for m in said if any(w in m for w in RANDOM_WEIGHT_WARNINGS)], said
    stock = stock_inferencer(task, str(checkpoints[task]))
    assert ours.model.dataset_meta == stock.model.dataset_meta
    assert ours.model.dataset_meta['classes'][0] == 'thing0'  # the checkpoint's names
    if task == 'det':  # mmseg's inferencer hands the model's meta to its visualizer per call
        assert ours.visualizer.dataset_meta == stock.visualizer.dataset_meta
    saved = torch.load(checkpoints[task], map_location='cpu', weights_only=True)['state_dict']
    for key, value in ours.model.state_dict().items():
        assert torch.equal(value, saved[key]), key


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_strict_inferencer_draws_what_the_stock_one_draws(task, checkpoints, image, tmp_path,
                                                          repo_root):
    from mmsdt.apis import build_inferencer
    ours = build_inferencer(CONFIGS[task][0], weights=str(checkpoints[task]))
    stock = stock_inferencer(task, str(checkpoints[task]))
    drawn = {}
    for name, inferencer in (('ours', ours), ('stock', stock)):
        kwargs = dict(return_vis=True)
        if task == 'det':
            kwargs.update(pred_score_thr=0.0, no_save_pred=True)
        np.random.seed(0)  # mmdet jitters mask colours with numpy's global generator
        vis = inferencer(str(image), **kwargs)['visualization']
        drawn[name] = vis[0] if isinstance(vis, list) else vis  # mmseg: one array
    assert drawn['ours'].shape[:2] == cv2.imread(str(image)).shape[:2]
    np.testing.assert_array_equal(drawn['ours'], drawn['stock'])


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_checkpoint_without_meta_takes_the_configs_classes(task, checkpoints, repo_root):
    from mmengine.config import Config

    from mmsdt.apis import build_inferencer
    inferencer = build_inferencer(CONFIGS[task][0], weights=str(checkpoints[task + '-no-meta']))
    cfg = Config.fromfile(CONFIGS[task][0])
    meta = inferencer.model.dataset_meta
    assert tuple(meta['classes']) == tuple(cfg.classes)
    assert [tuple(c) for c in meta['palette']] == [tuple(c) for c in cfg.metainfo.palette]


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_without_weights_the_stock_random_init_warning_stays(task, repo_root):
    from mmsdt.apis import build_inferencer
    with pytest.warns(UserWarning, match='Checkpoint is not loaded'):
        build_inferencer(CONFIGS[task][0])


@pytest.mark.parametrize('size, drawn_size', [((1, 1), (224, 224)), ((2, 3), (224, 336)),
                                               ((5, 1), (1120, 224)), ((300, 230), (300, 230))])
def test_segmentation_demo_draws_tiny_images_enlarged(size, drawn_size, checkpoints, tmp_path,
                                                      repo_root):
    # a 1x1 label map ended in an IndexError inside mmseg's visualizer
    from mmsdt.apis import inference_image
    path = tmp_path / 'tiny.png'
    cv2.imwrite(str(path), np.full((*size, 3), 90, np.uint8))
    out = inference_image(str(path), SEG, weights=str(checkpoints['seg']),
                          out_dir=str(tmp_path / 'out'))
    drawn = cv2.imread(out)
    assert drawn.shape == (*drawn_size, 3)
    assert not (drawn == 90).all()  # the overlay is drawn


def test_enlarged_label_map_stays_aligned_with_the_image():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmsdt.apis.inference import enlarged_for_drawing
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    sample = SegDataSample(metainfo=dict(ori_shape=(2, 3)))
    sample.pred_sem_seg = PixelData(data=torch.arange(6).reshape(1, 2, 3))
    big_image, big = enlarged_for_drawing(image, sample, min_side=4)
    assert big_image.shape == (4, 6, 3) and big.pred_sem_seg.data.shape == (1, 4, 6)
    for y, x in np.ndindex(4, 6):
        assert (big_image[y, x] == image[y // 2, x // 2]).all()
        assert big.pred_sem_seg.data[0, y, x] == sample.pred_sem_seg.data[0, y // 2, x // 2]
    assert enlarged_for_drawing(image, sample, min_side=2)[1] is sample


def test_detection_demo_draws_the_image_in_its_own_colours(checkpoints, tmp_path, repo_root):
    # the BGR array used to reach the RGB visualizer as it was: red drawn blue
    from mmsdt.apis import inference_image
    path = tmp_path / 'red.png'
    red = np.zeros((64, 80, 3), np.uint8)
    red[..., 2] = 255
    cv2.imwrite(str(path), red)
    out = inference_image(str(path), DET, weights=str(checkpoints['det']),
                          out_dir=str(tmp_path / 'out'), score_thr=1.01)  # no box drawn
    np.testing.assert_array_equal(cv2.imread(out), red)


@pytest.mark.parametrize('config, command', [
    (DET, 'make_toy_data.py coco --out data/toy_coco'),
    (SEG, 'make_toy_data.py ade --out data/toy_ade'),
])
def test_missing_toy_test_set_says_how_to_make_it(config, command, tmp_path, monkeypatch):
    from mmsdt.apis.inference import dataset_images
    monkeypatch.chdir(tmp_path)  # no data/ here
    with pytest.raises(FileNotFoundError, match=re.escape(command)):
        dataset_images(str(REPO / config), 2)
