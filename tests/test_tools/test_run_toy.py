"""The main job (tools/run_toy.py) end to end, shortened to a few iterations."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HIDDEN = ('pkg_resources is deprecated', 'please provide the `save_dir` argument',
          'in the "function" registry tree', '"FileClient" will be deprecated')


# `make run` generates the full toy sets (TASK=dvs: 1400 emulated recordings, most of that
# test's time); the tests run tools/run_toy.py with the same generators writing a few images or
# recordings per split (SMALL: per class for cls / gac / dvs); the rest of the job is unchanged
SMALL = dict(generate_toy_coco=(8, 4), generate_toy_ade=(8, 4), generate_toy_cls=(4, 2),
             generate_toy_dvs=(2, 1), generate_toy_event_det=(2, 1))
SMALL_RUN_TOY = '\n'.join([
    'import functools, runpy, sys',
    'import mmsdt.datasets as datasets',
    f'for name, (num_train, num_val) in {SMALL!r}.items():',
    '    setattr(datasets, name, functools.partial(getattr(datasets, name), '
    'num_train=num_train, num_val=num_val))',
    'sys.argv[0] = "tools/run_toy.py"',
    'runpy.run_path("tools/run_toy.py", run_name="__main__")'])


def _load_run_toy():
    spec = importlib.util.spec_from_file_location('run_toy', REPO / 'tools/run_toy.py')
    run_toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_toy)
    return run_toy


@pytest.mark.parametrize('task, metric', [('det', 'bbox_mAP'), ('seg', 'mIoU'),
                                          ('cls', 'top-1'), ('gac', 'top-1'),
                                          ('dvs', 'accuracy/top1'), ('event-det', 'mAP_50')])
def test_run_toy_pipeline(task, metric, tmp_path):
    work, data = tmp_path / 'work', tmp_path / 'data'
    # a short TMPDIR (as users have; mmsdt.utils.private_tempdir sidesteps long ones)
    tmp = Path(tempfile.mkdtemp(prefix='rt-', dir='/tmp' if os.path.isdir('/tmp') else None))
    proc = subprocess.run(
        [sys.executable, '-c', SMALL_RUN_TOY, '--task', task, '--work-dir', str(work),
         '--data-root', str(data), '--num-vis', '2', '--cfg-options', 'train_cfg.max_iters=2',
         'train_dataloader.batch_size=2'],
        cwd=REPO, env=dict(os.environ, TMPDIR=str(tmp)), capture_output=True, text=True,
        timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    # the persistent data-loader workers' pymp-* folders went with the run's temp folder
    left = list(tmp.iterdir())
    shutil.rmtree(tmp)
    assert left == []
    summary = json.loads((work / 'summary.json').read_text())
    assert 0.0 <= summary[metric] <= 1.0 and summary['iterations'] == 2
    assert f'toy {task}: ' in proc.stdout
    # the small sets were generated (per class: x 6 toy classification classes, x 8 DVS ones)
    assert dict(det='generated: train: 8 images, val: 4 images',
                seg='generated: train: 8 images, val: 4 images',
                cls='generated: train: 24 images, val: 12 images',
                gac='generated: train: 24 images, val: 12 images',
                dvs='generated: train: 16 recordings, val: 8 recordings',
                **{'event-det': 'generated: train: 2 recordings, 78 labelled timestamps, '
                                'val: 1 recordings, 39 labelled timestamps'})[task] in proc.stdout
    assert [line[:5] for line in proc.stdout.splitlines() if line.startswith('[')
            and line[1:2].isdigit()] == [f'[{i}/5]' for i in range(1, 6)]
    # the checkpoint the runner saved last, as mmengine also records it in the work dir
    assert Path(summary['checkpoint']).is_file()
    assert summary['checkpoint'] == (work / 'last_checkpoint').read_text().strip()
    if task in ('cls', 'gac'):  # one grid picture of the drawn val images
        import cv2
        grid = cv2.imread(summary['predictions'])
        assert summary['predictions'].endswith('.png') and grid is not None
        assert 0.0 <= summary['top-1'] <= summary['top-5'] <= 1.0
    elif task == 'dvs':  # the ON / OFF prediction grid and the T frames side by side
        import cv2
        drawn = sorted(p.name for p in Path(summary['predictions']).glob('*'))
        assert drawn == ['val_predictions.png', 'val_time_steps.png']
        assert all(cv2.imread(str(Path(summary['predictions']) / name)) is not None
                   for name in drawn)
        assert [line for line in proc.stdout.splitlines()
                if line.startswith('toy dvs: accuracy/top1 ')]
        assert 0.0 <= summary['accuracy/top1'] <= summary['accuracy/top5'] <= 1.0
    elif task == 'event-det':  # detections on ON / OFF event frames; the Gen1 layout
        import cv2
        picture = cv2.imread(summary['predictions'])
        assert summary['predictions'].endswith('.png') and picture is not None
        assert 0.0 <= summary['mAP'] <= summary['mAP_50'] <= 1.0
        assert [line for line in proc.stdout.splitlines()
                if line.startswith('toy event-det: ') and 'mAP_50 ' in line]
        assert sorted(p.name for p in (data / 'val').iterdir() if not p.name.startswith('.')
                      ) == ['000000_bbox.npy', '000000_td.dat']
    else:
        drawn = list(Path(summary['predictions']).glob('*'))
        assert len(drawn) == 2
    # known-harmless third-party warnings are hidden (tools/run_toy.py lists them)
    output = proc.stdout + proc.stderr
    for text in HIDDEN:
        assert text not in output, text


def test_data_root_reaches_wrapped_training_sets():
    """--data-root must reach the data set inside a wrapper (both toy configs train on a
    MultiImageMixDataset), not only the top-level dataset dict."""
    from mmengine.config import Config
    run_toy = _load_run_toy()
    for task in ('det', 'seg', 'cls', 'gac', 'dvs'):
        cfg = Config.fromfile(str(REPO / run_toy.TASKS[task]['config']))
        run_toy.point_config_at(cfg, task, '/elsewhere/toy')
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = run_toy.wrapped_dataset(cfg[loader].dataset)
            assert dataset.data_root == '/elsewhere/toy/', (task, loader)
            assert 'data_root' not in cfg[loader].dataset or \
                cfg[loader].dataset is dataset, 'a wrapper got a data_root it does not take'
        if task in ('det', 'seg'):
            assert cfg.train_dataloader.dataset.type == 'MultiImageMixDataset', task
