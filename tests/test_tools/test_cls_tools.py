"""Classification through the stock tools: tools/test.py on an ImageNet-layout folder with a
converted released checkpoint (top-1 / top-5 equal to the released model's own predictions),
strict checkpoint errors, tools/dist_train.sh, and the image demo."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
import torch

from mmsdt.datasets import TOY_CLS_CLASSES, generate_toy_cls
from torch.nn import functional as F

from mmsdt.models import ESpikeFormer
from mmsdt.models.backbones.e_spikeformer_converter import (released_state_dict,
                                                             save_released_format)
from mmsdt.snn import SpikeLinear

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
PHOTO = Path(matplotlib.get_data_path()) / 'sample_data' / 'grace_hopper.jpg'


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cls') / 'toy_cls'
    generate_toy_cls(str(root), num_train=3, num_val=4)
    return root


class _ReleasedClassifier(torch.nn.Module):
    """The released model's classifier written out: the backbone's last stage, global
    average, integer spike (``norm=1``), Linear (``head.weight`` / ``head.bias``)."""

    def __init__(self, arch, num_classes):
        super().__init__()
        self.backbone = ESpikeFormer(arch, out_indices=(4, ))
        self.head = SpikeLinear(self.backbone.embed_dims[-1], num_classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.backbone(x)[0], 1).flatten(1))


def _released_model(arch, seed, randomise_bn):
    torch.manual_seed(seed)
    model = randomise_bn(_ReleasedClassifier(arch, len(TOY_CLS_CLASSES)), seed)
    torch.nn.init.normal_(model.head.weight, std=0.5)
    return model.eval()


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory, load_tool, randomise_bn):
    convert = load_tool('tools/model_converters/sdtv3_to_mmsdt.py').convert
    folder = tmp_path_factory.mktemp('ckpt')
    out = {}
    for arch, seed in (('2.7m', 0), ('5.1m', 1)):
        model = _released_model(arch, seed, randomise_bn)
        released, converted = folder / f'{arch}_released.pth', folder / f'{arch}.pth'
        save_released_format(released_state_dict(model.backbone, model.head), released)
        convert(str(released), str(converted))
        out[arch] = (model, released, converted)
    return out


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')


def _data_options(root):
    r = f'{root}/'
    opts = ['--cfg-options']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={r}', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def _expected_accuracy(model, root):
    """Top-1 / top-5 (%) of the released model itself on the val folder, preprocessed as the
    config does (BGR -> RGB, ImageNet mean / std)."""
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    top1 = top5 = total = 0
    for label, name in enumerate(TOY_CLS_CLASSES):
        for path in sorted((root / 'val' / name).glob('*.JPEG')):
            img = cv2.imread(str(path))[..., ::-1].copy()
            x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() - mean) / std
            with torch.no_grad():
                ranked = model(x)[0].argsort(descending=True).tolist()
            top1 += ranked[0] == label
            top5 += label in ranked[:5]
            total += 1
    return 100 * top1 / total, 100 * top5 / total


def test_test_tool_gives_the_released_models_accuracy(toy_root, checkpoints, tmp_path):
    model, _, converted = checkpoints['2.7m']
    proc = subprocess.run([sys.executable, 'tools/test.py', CONFIG, str(converted),
                           '--work-dir', str(tmp_path / 'w'), *_data_options(toy_root)],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    top1, top5 = _expected_accuracy(model, toy_root)
    line = next(ln for ln in log.splitlines() if 'accuracy/top1:' in ln)
    got = dict(part.strip().split(': ') for part in line.split('-')[-1].split('  ')
               if ': ' in part)
    assert float(got['accuracy/top1']) == pytest.approx(top1, abs=1e-3)
    assert float(got['accuracy/top5']) == pytest.approx(top5, abs=1e-3)
    assert 0 < top1 < 100  # the released model predicts several classes, not one


@pytest.mark.parametrize('which, message', [
    ('5.1m', r'shape mismatch for \d+ key\(s\); first: backbone\.downsample1_1\.encode_conv\.'
     r'weight: checkpoint \(16, 3, 7, 7\) vs model \(12, 3, 7, 7\)'),
    ('released', r'looks like a released SDT-V3 ImageNet file: convert it once with '
     r'tools/model_converters/sdtv3_to_mmsdt\.py'),
])
def test_test_tool_refuses_a_checkpoint_that_does_not_fit(which, message, toy_root, checkpoints,
                                                          tmp_path):
    import re
    ckpt = checkpoints['5.1m'][2] if which == '5.1m' else checkpoints['2.7m'][1]
    proc = subprocess.run([sys.executable, 'tools/test.py', CONFIG, str(ckpt), '--work-dir',
                           str(tmp_path / 'w'), *_data_options(toy_root)], cwd=REPO,
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert re.search(message, proc.stderr), proc.stderr[-3000:]
    assert str(ckpt) in proc.stderr


def test_two_process_training(toy_root, tmp_path):
    work = tmp_path / 'dist'
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work),
         *_data_options(toy_root), 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
         'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=4'],
        cwd=REPO, env=dict(_env(), PORT='29541', PYTHON=sys.executable),
        capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert (work / 'iter_2.pth').is_file()
    assert 'accuracy/top1' in log  # the val loop ran on both ranks and gathered


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp('imgs')
    photo = cv2.imread(str(PHOTO))
    assert photo is not None, f'{PHOTO} (a photograph shipped with matplotlib) is missing'
    cv2.imwrite(str(d / 'gray.png'), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(d / 'rgba.png'), np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    cv2.imwrite(str(d / 'tiny.png'), cv2.resize(photo, (20, 15)))
    return dict(photo=PHOTO, gray=d / 'gray.png', rgba=d / 'rgba.png', tiny=d / 'tiny.png')


def test_demo_writes_the_top_k_classes_on_every_kind_of_image(images, checkpoints, tmp_path,
                                                              repo_root):
    from mmsdt.apis import classify_image, inference_image
    _, _, converted = checkpoints['2.7m']
    ckpt = torch.load(converted, map_location='cpu')  # a converted file has no class names
    ckpt['meta']['dataset_meta'] = dict(classes=TOY_CLS_CLASSES)
    named = tmp_path / 'named.pth'
    torch.save(ckpt, named)
    for kind, path in images.items():
        top = classify_image(str(path), CONFIG, weights=str(named), topk=3)
        assert [c for _, c, _ in top] == [TOY_CLS_CLASSES[i] for i, _, _ in top]
        scores = [s for _, _, s in top]
        assert len(top) == 3 and scores == sorted(scores, reverse=True), kind
        out = inference_image(str(path), CONFIG, weights=str(named), out_dir=str(tmp_path / kind),
                              topk=3)
        drawn, src = cv2.imread(out), cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert drawn is not None and drawn.ndim == 3, kind
        if kind == 'tiny':  # drawn enlarged so that the text is readable
            assert min(drawn.shape[:2]) == 224
        else:
            assert drawn.shape[:2] == src.shape[:2]
            assert not np.array_equal(drawn, src)  # text was written


def test_demo_cli_on_a_classification_config(checkpoints, tmp_path):
    _, _, converted = checkpoints['2.7m']
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, 'tools/demo/image_demo.py', str(PHOTO), CONFIG,
                           '--weights', str(converted), '--out-dir', str(out), '--topk', '2'],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / 'grace_hopper_pred.png').is_file()
    wrong = subprocess.run([sys.executable, 'tools/demo/image_demo.py', str(PHOTO), CONFIG,
                            '--weights', str(checkpoints['5.1m'][2]), '--out-dir', str(out)],
                           cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert wrong.returncode != 0 and 'shape mismatch' in wrong.stderr
