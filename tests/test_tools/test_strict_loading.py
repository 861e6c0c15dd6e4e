"""Every entry point that loads weights goes through the one strict, safe loader.

A checkpoint whose pickle runs code is refused by each tool (the error names the file) and its
payload never runs; a checkpoint missing a key, with a resized tensor or of the other task is
an error naming the key; a zero-byte, truncated or empty file given to the detection and
segmentation demos is an error naming the file and the fault. The tools run in-process
(``main(argv)``) on tiny inputs.
"""
import pickle
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mmsdt.utils import CheckpointError

REPO = Path(__file__).resolve().parents[2]
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
SEG = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
CONFIGS = dict(det=(DET, 'mmdet'), seg=(SEG, 'mmseg'), cls=(CLS, 'mmpretrain'))
KEY = 'backbone.downsample1_1.encode_conv.weight'


class WriteMarker:
    """Unpickling this object copies a file to ``marker`` (a pure-python stdlib call): the
    payload of a malicious checkpoint, harmless but visible."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return shutil.copyfile, (str(REPO / 'setup.cfg'), self.marker)


def build_model(task: str):
    """The toy config's model of ``task``, randomly initialised."""
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope

    import mmsdt.models  # noqa: F401
    config, scope = CONFIGS[task]
    cfg = Config.fromfile(str(REPO / config))
    with DefaultScope.overwrite_default_scope(scope):
        torch.manual_seed(0)
        return MODELS.build(cfg.model), cfg


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """A good checkpoint of each toy model with its data set's metainfo, as a runner saves it."""
    folder = tmp_path_factory.mktemp('ckpts')
    paths = {}
    for task in CONFIGS:
        model, cfg = build_model(task)
        dataset_meta = dict(cfg.get('metainfo') or dict(classes=[f'c{i}' for i in range(6)]))
        paths[task] = folder / f'{task}.pth'
        torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dataset_meta)),
                   paths[task])
    return paths


@pytest.fixture
def malicious(tmp_path, checkpoints):
    """A checkpoint that fits the detector but runs a payload when unpickled, and the path
    the payload would create."""
    marker = tmp_path / 'PAYLOAD_RAN'
    ckpt = torch.load(checkpoints['det'], map_location='cpu', weights_only=True)
    ckpt['meta']['hook'] = WriteMarker(marker)
    path = tmp_path / 'malicious.pth'
    torch.save(ckpt, path)
    assert not marker.exists()
    return path, marker


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp('img') / 'scene.png'
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    return path


def test_the_payload_runs_under_an_unrestricted_unpickler(tmp_path):
    # the fixture is a real attack: a plain pickle load runs it
    marker = tmp_path / 'PAYLOAD_RAN'
    pickle.loads(pickle.dumps(WriteMarker(marker)))
    assert marker.is_file()


def _image_demo(load_tool, task, image, tmp_path):
    demo = load_tool('tools/demo/image_demo.py')
    return lambda ckpt: demo.main([str(image), CONFIGS[task][0], '--weights', str(ckpt),
                                   '--out-dir', str(tmp_path / 'out')])


def _inference_image(load_tool, task, image, tmp_path):
    from mmsdt.apis import inference_image
    return lambda ckpt: inference_image(str(image), CONFIGS[task][0], weights=str(ckpt),
                                        out_dir=str(tmp_path / 'out'))


def _run_toy_draw(load_tool, task, image, tmp_path):
    run_toy = load_tool('tools/run_toy.py')
    data_root = tmp_path / 'data'
    for sub in ('val/circle', 'images/validation'):  # cls lists its class folders first
        (data_root / sub).mkdir(parents=True)
    return lambda ckpt: run_toy.draw(task, CONFIGS[task][0], str(ckpt), str(data_root),
                                     str(tmp_path / 'vis'), 1)


def _spike_energy(load_tool, task, image, tmp_path):
    tool = load_tool('tools/analysis_tools/spike_energy.py')
    return lambda ckpt: tool.main([CONFIGS[task][0], '--checkpoint', str(ckpt), '--shape', '32',
                                   '32', '--out-dir', str(tmp_path / 'energy')])


def _verify_spike_driven(load_tool, task, image, tmp_path):
    tool = load_tool('tools/analysis_tools/verify_spike_driven.py')
    return lambda ckpt: tool.main([CONFIGS[task][0], '--checkpoint', str(ckpt),
                                   '--num-images', '1'])


def _export_onnx(load_tool, task, image, tmp_path):
    tool = load_tool('tools/deployment/export_onnx.py')
    return lambda ckpt: tool.main([CONFIGS[task][0], '--checkpoint', str(ckpt), '--shape', '32',
                                   '32', '--out', str(tmp_path / 'model.onnx')])


def _test_tool(load_tool, task, image, tmp_path):
    tool = load_tool('tools/test.py')
    return lambda ckpt: tool.main([CONFIGS[task][0], str(ckpt), '--work-dir',
                                   str(tmp_path / 'work')])


def _backbone_demo(load_tool, task, image, tmp_path):
    tool = load_tool('tools/demo/backbone_demo.py')
    return lambda ckpt: tool.main(['--arch', '2.7m', '--checkpoint', str(ckpt), '--size', '32',
                                   '--work-dir', str(tmp_path / 'backbone')])


ENTRY_POINTS = [
    ('image_demo', 'det', _image_demo),
    ('image_demo', 'seg', _image_demo),
    ('image_demo', 'cls', _image_demo),
    ('inference_image', 'det', _inference_image),
    ('run_toy.draw', 'det', _run_toy_draw),
    ('run_toy.draw', 'seg', _run_toy_draw),
    ('run_toy.draw', 'cls', _run_toy_draw),
    ('spike_energy', 'det', _spike_energy),
    ('verify_spike_driven', 'seg', _verify_spike_driven),
    ('export_onnx', 'cls', _export_onnx),
    ('test.py', 'cls', _test_tool),
    ('backbone_demo', 'backbone', _backbone_demo),
]


@pytest.mark.parametrize('name,task,entry', ENTRY_POINTS,
                         ids=[f'{n}-{t}' for n, t, _ in ENTRY_POINTS])
def test_every_entry_point_refuses_a_malicious_pickle(name, task, entry, malicious, image,
                                                      tmp_path, load_tool, repo_root):
    path, marker = malicious
    call = entry(load_tool, task, image, tmp_path)
    with pytest.raises(CheckpointError, match=re.escape(str(path))) as err:
        call(path)
    assert 'safe unpickler' in str(err.value)
    assert not marker.exists(), f'{name} ran the pickled payload'


def _without(path: Path, out: Path, key: str, replace=None) -> Path:
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if replace is None:
        del ckpt['state_dict'][key]
    else:
        ckpt['state_dict'][key] = replace
    torch.save(ckpt, out)
    return out


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_demo_refuses_a_checkpoint_missing_one_key(task, checkpoints, image, tmp_path,
                                                   load_tool, repo_root):
    bad = _without(checkpoints[task], tmp_path / 'missing.pth', KEY)
    with pytest.raises(CheckpointError, match=r'1 missing key\(s\) \[' + re.escape(KEY)):
        _image_demo(load_tool, task, image, tmp_path)(bad)
    assert not (tmp_path / 'out').exists() or not list((tmp_path / 'out').rglob('*.png'))


def test_demo_refuses_a_resized_tensor_naming_both_shapes(checkpoints, image, tmp_path,
                                                          load_tool, repo_root):
    bad = _without(checkpoints['det'], tmp_path / 'resized.pth', KEY,
                   replace=torch.zeros(5, 3, 7, 7))
    with pytest.raises(CheckpointError) as err:
        _image_demo(load_tool, 'det', image, tmp_path)(bad)
    assert re.search(re.escape(KEY) + r': checkpoint \(5, 3, 7, 7\) vs model \(\d+, 3, 7, 7\)',
                     str(err.value)), err.value


@pytest.mark.parametrize('task,other,foreign', [('det', 'seg', 'decode_head.'),
                                                ('seg', 'det', 'rpn_head.')])
def test_demo_refuses_the_other_tasks_checkpoint(task, other, foreign, checkpoints, image,
                                                 tmp_path, load_tool, repo_root):
    with pytest.raises(CheckpointError) as err:
        _image_demo(load_tool, task, image, tmp_path)(checkpoints[other])
    message = str(err.value)
    assert str(checkpoints[other]) in message and 'does not fit' in message
    assert foreign in message  # a key named


def _broken(kind: str, good: Path, out: Path) -> Path:
    if kind == 'zero-byte':
        out.write_bytes(b'')
    elif kind == 'truncated':
        data = good.read_bytes()
        out.write_bytes(data[:len(data) // 2])
    elif kind == 'empty-dict':
        torch.save({}, out)
    else:  # an empty state dict
        torch.save(dict(state_dict={}, meta={}), out)
    return out


BROKEN = [('zero-byte', r'is empty \(0 bytes\)'),
          ('truncated', r'not a readable torch checkpoint \(truncated or not a checkpoint\)'),
          ('empty-dict', r'no state dict found'),
          ('empty-state-dict', r'does not fit \w+: \d+ missing key\(s\)')]


@pytest.mark.parametrize('task', ['det', 'seg'])
@pytest.mark.parametrize('kind,fault', BROKEN, ids=[k for k, _ in BROKEN])
def test_demo_names_the_file_and_fault_of_a_broken_checkpoint(task, kind, fault, checkpoints,
                                                              image, tmp_path, load_tool,
                                                              repo_root):
    bad = _broken(kind, checkpoints[task], tmp_path / f'{kind}.pth')
    with pytest.raises(CheckpointError) as err:
        _image_demo(load_tool, task, image, tmp_path)(bad)
    assert str(bad) in str(err.value) and re.search(fault, str(err.value)), err.value


@pytest.mark.parametrize('task', ['det', 'seg'])
def test_run_toy_draws_with_a_good_checkpoint(task, checkpoints, tmp_path, load_tool,
                                              repo_root):
    from mmsdt.datasets import generate_toy_ade, generate_toy_coco
    root = tmp_path / 'data'
    dict(det=generate_toy_coco, seg=generate_toy_ade)[task](str(root), num_train=1, num_val=2)
    run_toy = load_tool('tools/run_toy.py')
    vis = run_toy.draw(task, CONFIGS[task][0], str(checkpoints[task]), str(root),
                       str(tmp_path / 'pred'), 2)
    assert len(list(Path(vis).iterdir())) == 2
