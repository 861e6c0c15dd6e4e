"""Firing rates over a whole test run (one and two processes), the energy tool and the
spike-driven verification tool, on the toy classification and detection configs."""
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmsdt.datasets import TOY_CLS_CLASSES, generate_toy_cls, generate_toy_coco

REPO = Path(__file__).resolve().parents[2]
CLS = 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'
DET = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
NUM_VAL = 2  # per class


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
