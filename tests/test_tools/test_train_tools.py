"""tools/train.py, tools/test.py and tools/dist_train.sh on the toy config (CPU, gloo)."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmsdt.datasets import generate_toy_coco
from mmsdt.utils import CheckpointError

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy') / 'toy_coco'
    generate_toy_coco(str(root), num_train=8, num_val=4)
    return root


def _options(root, iters, interval):
    r = f'{root}/'
    # the toy training set sits inside a MultiImageMixDataset (copy-paste)
    return ['--cfg-options', f'train_dataloader.dataset.dataset.data_root={r}',
            f'val_dataloader.dataset.data_root={r}', f'test_dataloader.dataset.data_root={r}',
            f'val_evaluator.ann_file={r}annotations/instances_val.json',
            f'test_evaluator.ann_file={r}annotations/instances_val.json',
            f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'default_hooks.checkpoint.interval={interval}', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    return env


def test_two_process_gloo_training_writes_a_checkpoint(toy_root, tmp_path):
    work = tmp_path / 'dist'
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', str(work),
         *_options(toy_root, 2, 2)],
        cwd=REPO, env=dict(_env(), PORT='29533', PYTHON=sys.executable),
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (work / 'iter_2.pth').is_file()
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    # every rank wraps its replica in DDP (and warns once about broadcast_buffers); a
    # finished DDP step needs both ranks in the gradient all-reduce anyway
    assert log.count('`broadcast_buffers` is deprecated') == 2


def test_killed_run_resumes_and_finishes(toy_root, tmp_path):
    work = tmp_path / 'resume'
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(work),
           *_options(toy_root, 6, 2), 'default_hooks.logger.interval=1']
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 400
        while not (work / 'iter_2.pth').exists():
            assert proc.poll() is None, 'training ended before its first checkpoint'
            assert time.time() < deadline, 'no checkpoint within the time limit'
            time.sleep(0.5)
        time.sleep(1.0)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = sorted(int(p.stem.split('_')[1]) for p in work.glob('iter_*.pth'))
    assert saved and saved[-1] < 6, saved
    last = saved[-1]
    done = subprocess.run(cmd + ['--resume'], cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert f'Auto resumed from the latest intact checkpoint {work / f"iter_{last}.pth"}' in log
    assert f'resumed epoch: 0, iter: {last}' in log
    trained = [int(i) for i in re.findall(r'Iter\(train\) \[\s*(\d+)/6\]', log)]
    assert trained == list(range(last + 1, 7)), trained  # it did not start over
    assert torch.load(work / 'iter_6.pth')['meta']['iter'] == 6

    test = subprocess.run([sys.executable, 'tools/test.py', CONFIG, str(work / 'iter_6.pth'),
                           '--work-dir', str(tmp_path / 'test'), *_options(toy_root, 6, 2)],
                          cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert test.returncode == 0, (test.stdout + test.stderr)[-4000:]
    assert 'coco/bbox_mAP' in test.stdout + test.stderr


def test_missing_data_root_is_named(tmp_path):
    missing = tmp_path / 'nowhere'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'w'),
         *_options(missing, 2, 2)], cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    assert str(missing) in proc.stderr


def test_corrupt_image_fails_with_its_path(toy_root, tmp_path, repo_root, mmdet_scope):
    import shutil

    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    root = tmp_path / 'corrupt'
    shutil.copytree(toy_root, root)
    victim = sorted((root / 'train').glob('*.jpg'))[0]
    victim.write_bytes(b'not a jpeg at all')
    cfg = Config.fromfile(CONFIG)
    cfg.train_dataloader.dataset.dataset.data_root = f'{root}/'
    dataset = DATASETS.build(cfg.train_dataloader.dataset)  # the copy-paste wrapper
    assert type(dataset).__name__ == 'MultiImageMixDataset'
    index = [i for i in range(len(dataset))
             if dataset.dataset.get_data_info(i)['img_path'] == str(victim)][0]
    with pytest.raises(Exception, match=victim.name):
        dataset[index]


def test_amp_flag_on_cpu_sets_bf16_backbone_autocast(load_tool, monkeypatch, repo_root):
    train = load_tool('tools/train.py')
    monkeypatch.setattr(train.torch.cuda, 'is_available', lambda: False)
    cfg = train.build_cfg(train.parse_args([CONFIG, '--amp']))
    assert cfg.model.backbone.autocast_dtype == 'bfloat16'
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper'
    cfg = train.build_cfg(train.parse_args([CONFIG]))
    assert cfg.model.backbone.get('autocast_dtype') is None


class _Payload:
    """Unpickled by a full unpickler, this writes a marker file."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        return Path.write_text, (self.marker, 'payload ran')


@pytest.mark.parametrize('how', ['--resume CKPT', 'load_from'])
def test_malicious_checkpoint_is_refused_and_not_run(toy_root, tmp_path, load_tool, repo_root,
                                                     how):
    marker, evil = tmp_path / 'marker', tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(epoch=0, iter=2, note=_Payload(marker)), state_dict={},
                    message_hub={}), evil)
    argv = [CONFIG, '--work-dir', str(tmp_path / 'w')]
    if how == 'load_from':
        argv += [*_options(toy_root, 2, 2), f'load_from={evil}']
    else:
        argv += ['--resume', str(evil), *_options(toy_root, 2, 2)]
    with pytest.raises(CheckpointError, match='evil.pth.*refused by the safe unpickler'):
        load_tool('tools/train.py').main(argv)
    assert not marker.exists()
    assert not list((tmp_path / 'w').glob('iter_*.pth'))


def test_load_from_with_a_missing_key_names_it(toy_root, tmp_path, load_tool, repo_root):
    from mmsdt.utils.launch import build_runner
    train = load_tool('tools/train.py')
    argv = [CONFIG, '--work-dir', str(tmp_path / 'w'), *_options(toy_root, 2, 2)]
    runner = build_runner(train.build_cfg(train.parse_args(argv)))
    # the config's CheckpointHook is built as the atomic one, with the config's options
    from mmsdt.engine import AtomicCheckpointHook, SafeRunner
    hook = [h for h in runner.hooks if isinstance(h, AtomicCheckpointHook)]
    assert type(runner) is SafeRunner and len(hook) == 1 and hook[0].max_keep_ckpts == 2
    state = runner.model.state_dict()
    del state['backbone.downsample1_1.encode_conv.weight']
    partial = tmp_path / 'partial.pth'
    torch.save(dict(meta=dict(), state_dict=state), partial)
    with pytest.raises(CheckpointError,
                       match=r'partial.pth does not fit StrideCheckedMaskRCNN: 1 '
                       r'missing key\(s\) \[backbone.downsample1_1.encode_conv.weight\]'):
        train.main(argv + [f'load_from={partial}'])
    assert not list((tmp_path / 'w').glob('iter_*.pth'))
