"""Firing rates over a whole test run (one and two processes), the energy tool and the
spike-driven verification tool, on the toy classification, detection and event-camera configs
(the hand count of SOPs summed over T is tests/test_snn/test_time_axis.py::
test_sops_with_time_counted_by_hand)."""
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmsdt.datasets import TOY_CLS_CLASSES, generate_toy_cls, generate_toy_coco, generate_toy_dvs

REPO = Path(__file__).resolve().parents[2]
CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
NUM_VAL = 2  # per class
DVS = 'configs/toy/e-spikeformer-2.7m-t4_1xb16-600i_toy-dvs-64px.py'
DVS_STATEFUL = 'configs/toy/e-spikeformer-2.7m-t4-stateful_1xb16-600i_toy-dvs-64px.py'
DVS_DIR = 'configs/e-spikeformer/dvs/'
NMNIST = DVS_DIR + 'e-spikeformer-2.7m_1xb128-50e_nmnist-t8-34px.py'
GESTURE = DVS_DIR + 'e-spikeformer-10m_1xb16-200e_dvs128-gesture-t16-128px.py'


@pytest.fixture(scope='module')
def cls_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('cls') / 'toy_cls'
    generate_toy_cls(str(root), num_train=1, num_val=NUM_VAL)
    return root


@pytest.fixture(scope='module')
def cls_ckpt(tmp_path_factory):
    """A checkpoint of the toy classifier (random weights, BN statistics that fire)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS
    from torch.nn.modules.batchnorm import _BatchNorm

    import mmsdt.models  # noqa: F401
    cfg = Config.fromfile(str(REPO / CLS))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):  # whatever scope a test left
        model = MODELS.build(cfg.model)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.running_var.fill_(0.5)
            m.bias.data.fill_(0.3)
    path = tmp_path_factory.mktemp('ckpt') / 'cls.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=TOY_CLS_CLASSES))), path)
    return path


def _known_harmless_lines(text):
    """Lines of ``text`` that print a warning mmsdt.utils.quiet hides."""
    from mmsdt.utils.quiet import KNOWN_HARMLESS_LOG_WARNINGS, KNOWN_HARMLESS_WARNINGS
    patterns = [re.compile(m) for m, _, _ in KNOWN_HARMLESS_WARNINGS]
    patterns += [re.compile(p) for p in KNOWN_HARMLESS_LOG_WARNINGS]
    return [line for line in text.splitlines() if any(p.search(line) for p in patterns)]


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')


def _run(cmd, timeout=600, **kw):
    return subprocess.run(cmd, cwd=REPO, env=kw.pop('env', _env()), capture_output=True,
                          text=True, timeout=timeout, **kw)


def _cls_options(root):
    opts = ['--cfg-options']
    for loader in ('val_dataloader', 'test_dataloader', 'train_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}/', f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def test_firing_rates_over_the_test_set_agree_between_one_and_two_processes(
        cls_root, cls_ckpt, tmp_path):
    one = _run([sys.executable, 'tools/test.py', CLS, str(cls_ckpt), '--work-dir',
                str(tmp_path / 'one'), '--firing-rates', *_cls_options(cls_root)])
    assert one.returncode == 0, (one.stdout + one.stderr)[-3000:]
    two = _run(['bash', 'tools/dist_test.sh', CLS, str(cls_ckpt), '2', '--work-dir',
                str(tmp_path / 'two'), '--firing-rates', *_cls_options(cls_root)],
               env=dict(_env(), PORT='29547', PYTHON=sys.executable))
    assert two.returncode == 0, (two.stdout + two.stderr)[-3000:]
    reports = []
    for run in ('one', 'two'):
        [json_path] = list((tmp_path / run).rglob('firing_rates_test.json'))
        assert json_path.with_suffix('.png').is_file()
        reports.append(json.loads(json_path.read_text()))
    single, dual = reports
    n_images = NUM_VAL * len(TOY_CLS_CLASSES)
    assert single['overall']['images'] == dual['overall']['images'] == n_images
    assert [n['name'] for n in single['neurons']] == [n['name'] for n in dual['neurons']]
    assert single['neurons'][0]['name'] == 'backbone.ConvBlock1_1.0.Conv.spike1'
    for a, b in zip(single['neurons'], dual['neurons']):  # both ranks' counts are summed
        assert a['elements'] == b['elements'] and b['calls'] == 2 * a['calls']  # per rank
        assert a['mean_count'] == pytest.approx(b['mean_count'], rel=1e-9, abs=1e-12)
        assert 0 <= a['firing_rate'] == pytest.approx(a['mean_count'] / a['max_value'])
        assert a['nonzero_rate'] <= 1
    assert 0 < single['overall']['firing_rate'] < 1
    head = [n for n in single['neurons'] if n['name'] == 'head.fc.spike'][0]
    assert head['elements'] == n_images * 128  # one pooled 128-vector per image


def test_energy_tool_on_the_classifier_and_a_detector(cls_root, cls_ckpt, tmp_path):
    out = tmp_path / 'cls'
    cfg = tmp_path / 'cls_cfg.py'  # the toy config on the fixture's folder
    cfg.write_text(f"_base_ = '{REPO / CLS}'\n"
                   f"test_dataloader = dict(dataset=dict(data_root='{cls_root}/'))\n")
    proc = _run([sys.executable, 'tools/analysis_tools/spike_energy.py', str(cfg),
                 '--checkpoint', str(cls_ckpt), '--num-images', '50', '--out-dir', str(out)])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    n_images = NUM_VAL * len(TOY_CLS_CLASSES)
    assert f'--num-images 50 but the test set has {n_images} images' in proc.stdout
    report = json.loads((out / 'energy.json').read_text())
    assert report['num_images'] == n_images and report['e_mac_pJ'] == 4.6
    total = report['totals']['total']
    assert total['energy_mJ'] == pytest.approx(
        sum(r['energy_mJ'] for r in report['layers']))
    assert total['energy_mJ'] == pytest.approx(
        (total['analog_macs'] * 4.6 + total['sops'] * 0.9) * 1e-9)
    assert set(report['totals']) == {'backbone', 'head', 'total'}
    with open(out / 'energy_layers.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report['layers']) and (out / 'energy_layers.png').is_file()
    assert 'total' in proc.stdout and 'energy mJ' in proc.stdout
    assert _known_harmless_lines(proc.stdout + proc.stderr) == []

    # a detector on one generated scene of a given size: backbone, neck and heads reported
    det = _run([sys.executable, 'tools/analysis_tools/spike_energy.py', DET, '--shape', '96',
                '128', '--out-dir', str(tmp_path / 'det'), '--preset', '45nm-int8'])
    assert det.returncode == 0, (det.stdout + det.stderr)[-3000:]
    det_report = json.loads((tmp_path / 'det' / 'energy.json').read_text())
    assert {'backbone', 'neck', 'rpn_head', 'roi_head'} <= set(det_report['totals'])
    assert det_report['e_ac_pJ'] == 0.03 and 'randomly initialised' in det.stdout
    # the known-harmless third-party lines are gone, a real warning still shows
    assert _known_harmless_lines(det.stdout + det.stderr) == []
    assert 'the inference result is calculated by the randomly initialized model' in det.stderr


@pytest.mark.parametrize('num', ['0', '-2'])
def test_energy_tool_refuses_fewer_than_one_image(num, tmp_path, capsys, load_tool):
    # --num-images 0 must not count one image silently
    tool = load_tool('tools/analysis_tools/spike_energy.py')
    with pytest.raises(SystemExit) as exit_:
        tool.main([CLS, '--num-images', num, '--out-dir', str(tmp_path / 'o')])
    assert exit_.value.code == 2
    assert f'--num-images must be at least 1, got {num}' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


def test_energy_tool_refuses_a_model_without_spikes(tmp_path):
    cfg = tmp_path / 'plain.py'
    cfg.write_text("_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'\n")
    proc = _run([sys.executable, 'tools/analysis_tools/spike_energy.py', str(cfg), '--shape',
                 '64', '64', '--out-dir', str(tmp_path / 'o')])
    assert proc.returncode != 0 and 'no spiking layer' in proc.stderr


def test_verification_tool_passes_on_toy_detection(tmp_path):
    root = tmp_path / 'toy_coco'
    generate_toy_coco(str(root), num_train=1, num_val=2)
    cfg = tmp_path / 'det_cfg.py'
    # a backbone trained under bf16 autocast (tools/train.py --amp): checked in float32
    cfg.write_text(f"_base_ = '{REPO / DET}'\n"
                   f"model = dict(backbone=dict(autocast_dtype='bfloat16'))\n"
                   f"test_dataloader = dict(dataset=dict(data_root='{root}/'))\n"
                   f"test_evaluator = dict(ann_file='{root}/annotations/instances_val.json')\n")
    proc = _run([sys.executable, 'tools/analysis_tools/verify_spike_driven.py', str(cfg),
                 '--num-images', '5'])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert '--num-images 5 but the test set has 2 images' in proc.stdout
    assert 'backbone: autocast switched off, both modes run in float32' in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('PASSED: 2 image(s)') and '100.0 % binary' in last
    assert ', 0 untied' in last


@pytest.fixture(scope='module')
def dvs_root(tmp_path_factory):
    """The toy event set with one val recording per class (8) and no training split."""
    root = tmp_path_factory.mktemp('dvs') / 'toy_dvs'
    generate_toy_dvs(str(root), num_train=0, num_val=1, seed=0)
    return root


def _on_root(tmp_path, config, root):
    cfg = tmp_path / 'dvs_cfg.py'  # the config on the fixture's folder
    cfg.write_text(f"_base_ = '{REPO / config}'\n"
                   f"test_dataloader = dict(dataset=dict(data_root='{root}/'))\n")
    return cfg


@pytest.mark.parametrize('config, mode', [(DVS, 'stateless'), (DVS_STATEFUL, 'stateful')])
def test_verification_tool_on_toy_events_with_time(config, mode, dvs_root, tmp_path):
    # random init, the config's own test pipeline on the toy recordings: T = 4 frames of
    # 2 x 56 x 56 (the central crop) go through the model in one call
    proc = _run([sys.executable, 'tools/analysis_tools/verify_spike_driven.py',
                 str(_on_root(tmp_path, config, dvs_root)), '--num-images', '2'])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert (f'T = 4 time steps, {mode} neurons, inputs (B, T, C, H, W) = (1, 4, 2, 56, 56)'
            in proc.stdout)
    rows = [line for line in proc.stdout.splitlines() if line.split()[0].endswith('.bin')]
    assert len(rows) == 2  # one row per recording, named by its file
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f'PASSED: 2 recording(s) of T = 4 time steps ({mode} neurons)')
    assert '100.0 % binary' in last and ', 0 untied' in last
    assert ' 0 spike inputs' not in last  # the spike-fed layers were reached


def test_energy_tool_on_toy_events_and_random_frames(dvs_root, tmp_path):
    proc = _run([sys.executable, 'tools/analysis_tools/spike_energy.py',
                 str(_on_root(tmp_path, DVS, dvs_root)), '--num-images', '20', '--out-dir',
                 str(tmp_path / 'toy')])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert '--num-images 20 but the test set has 8 recordings: using all 8' in proc.stdout
    report = json.loads((tmp_path / 'toy' / 'energy.json').read_text())
    assert report['num_images'] == 8 and report['time_steps'] == 4
    assert 'per image, summed over T = 4 time steps' in proc.stdout
    stem = report['layers'][0]  # analog-fed; one recording per call: T x B = 4 frames
    assert stem['input'] == 'analog' and stem['input_shape'] == [4, 2, 56, 56]
    assert report['totals']['backbone']['sops'] > 0
    assert _known_harmless_lines(proc.stdout + proc.stderr) == []

    # --shape on a release config without its data: random event frames, T and C from the
    # config (N-MNIST: T = 8, 2 polarity channels)
    nmnist = _run([sys.executable, 'tools/analysis_tools/spike_energy.py', NMNIST, '--shape',
                   '34', '34', '--out-dir', str(tmp_path / 'nmnist')])
    assert nmnist.returncode == 0, (nmnist.stdout + nmnist.stderr)[-3000:]
    report = json.loads((tmp_path / 'nmnist' / 'energy.json').read_text())
    assert report['num_images'] == 1 and report['time_steps'] == 8
    assert report['layers'][0]['input_shape'] == [8, 2, 34, 34]
    assert 'summed over T = 8 time steps' in nmnist.stdout


def test_verification_tool_on_random_event_frames(tmp_path):
    # a release config (DVS128 Gesture, T = 16) shrunk to 2 frames of 48 x 48 to stay fast
    cfg = tmp_path / 'gesture.py'
    cfg.write_text(f"_base_ = '{REPO / GESTURE}'\n"
                   "data_preprocessor = dict(num_frames=2)\n"
                   "model = dict(backbone=dict(neuron_mode='stateful'))\n")
    proc = _run([sys.executable, 'tools/analysis_tools/verify_spike_driven.py', str(cfg),
                 '--shape', '48', '48'])
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert ('T = 2 time steps, stateful neurons, inputs (B, T, C, H, W) = (1, 2, 2, 48, 48)'
            in proc.stdout)
    assert proc.stdout.strip().splitlines()[-1].startswith(
        'PASSED: 1 recording(s) of T = 2 time steps (stateful neurons)')


@pytest.mark.parametrize('config, steps', [
    (DVS, 4), (DVS_STATEFUL, 4), (NMNIST, 8),
    (GESTURE, 16),
    (DVS_DIR + 'e-spikeformer-10m_1xb64-200e_cifar10-dvs-t8-64px.py', 8),
    (DVS_DIR + 'e-spikeformer-19m_3xb24-100e_hardvs-t8-224px.py', 8),
])
def test_event_configs_and_their_time_steps(config, steps):
    # T as each config's file name states it
    from mmsdt.apis import config_time_steps, is_event_config
    assert is_event_config(str(REPO / config)) and config_time_steps(str(REPO / config)) == steps
    assert not is_event_config(str(REPO / CLS)) and not is_event_config(str(REPO / DET))


def test_time_steps_from_the_pipeline_or_a_clear_error(tmp_path):
    from mmsdt.apis import config_time_steps
    cfg = tmp_path / 'bins.py'  # no num_frames: the test pipeline's EventsToFrames num_bins
    cfg.write_text(f"_base_ = '{REPO / DVS}'\n"
                   "model = dict(data_preprocessor=dict(num_frames=None))\n"
                   "test_pipeline = [dict(type='mmsdt.LoadEvents'),\n"
                   "                 dict(type='mmsdt.EventsToFrames', num_bins=6)]\n"
                   "test_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n")
    assert config_time_steps(str(cfg)) == 6
    window = tmp_path / 'window.py'  # frames by time window: T is not in the config
    window.write_text(f"_base_ = '{cfg}'\n"
                      "test_dataloader = dict(dataset=dict(pipeline=[\n"
                      "    dict(type='mmsdt.LoadEvents'),\n"
                      "    dict(type='mmsdt.EventsToFrames', time_window=1000)]))\n")
    with pytest.raises(ValueError, match=r'window\.py: no T found: set '
                                         r'model\.data_preprocessor\.num_frames'):
        config_time_steps(str(window))


def test_random_event_batch_takes_the_stem_channels():
    from mmsdt.apis import random_event_batch
    model = torch.nn.Module()
    model.backbone = torch.nn.Sequential(torch.nn.Conv2d(5, 4, 3), torch.nn.Conv2d(4, 4, 1))
    batch = random_event_batch(model, 3, 8, 10, seed=1)
    [frames] = batch['inputs']
    assert frames.shape == (3, 5, 8, 10) and frames.dtype == torch.float32
    assert bool((frames == frames.round()).all()) and frames.min() >= 0 and frames.max() > 0
    assert torch.equal(frames, random_event_batch(model, 3, 8, 10, seed=1)['inputs'][0])
    assert not torch.equal(frames, random_event_batch(model, 3, 8, 10, seed=2)['inputs'][0])
    with pytest.raises(ValueError, match='has no Conv2d'):
        random_event_batch(torch.nn.Linear(2, 2), 3, 8, 8)


def test_missing_toy_event_set_says_how_to_make_it(tmp_path, monkeypatch):
    from mmsdt.apis import dataset_batches
    monkeypatch.chdir(tmp_path)  # no data/ here
    with pytest.raises(FileNotFoundError, match='make_toy_data.py dvs --out data/toy_dvs'):
        dataset_batches(str(REPO / DVS), 2)


def test_energy_tool_sums_the_sops_of_the_time_steps(load_tool):
    # stateless neurons: every frame runs on its own, so the backbone SOPs of one sample of
    # T = 2 frames are those of its two frames run as two T = 1 samples, added
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import MODELS

    import mmsdt.models  # noqa: F401
    from mmsdt.apis import random_event_batch
    from mmsdt.snn import SynapticOpCounter
    tool = load_tool('tools/analysis_tools/spike_energy.py')
    cfg = Config.fromfile(str(REPO / DVS))
    cfg.model.data_preprocessor.num_frames = None  # T = 2 and T = 1 alike
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model).eval()
    frames = random_event_batch(model, 2, 32, 32, seed=3)['inputs'][0]

    def backbone_sops(batches):
        with SynapticOpCounter(model) as counter:
            tool.run(model, batches, len(batches))
        report = counter.report(len(batches))
        return report.totals()['backbone']['sops'] * len(batches), report.time_steps

    together, steps = backbone_sops([dict(inputs=[frames], data_samples=None)])
    apart, one = backbone_sops([dict(inputs=[frames[t:t + 1]], data_samples=None)
                                for t in range(2)])
    assert (steps, one) == (2, 1) and together > 0
    assert together == pytest.approx(apart, rel=1e-12)
