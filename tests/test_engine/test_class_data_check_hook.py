"""mmsdt.ClassDataCheckHook on classification data in the ImageNet folder layout: empty class
folder, non-image file, corrupt JPEG, head / data class-count mismatch, a renamed val folder
(against the train data and against a checkpoint's stored classes), the opt-outs."""
import shutil
from pathlib import Path

import pytest

from mmsdt.datasets import TOY_CLS_CLASSES, generate_toy_cls
from mmsdt.engine import ClassDataError

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / 'configs/toy/e-spikeformer-2.7m_1xb32-800i_toy-cls-64px.py'


@pytest.fixture(scope='module')
def toy_cls(tmp_path_factory):
    root = tmp_path_factory.mktemp('toycls') / 'toy_cls'
    generate_toy_cls(str(root), num_train=2, num_val=1)
    return root


@pytest.fixture
def data(toy_cls, tmp_path):
    """A private copy of the toy set that a test may damage."""
    root = tmp_path / 'data'
    shutil.copytree(toy_cls, root)
    return root


def _runner(root, work_dir, hook=None, load_from=None, **model_head):
    from mmengine.config import Config

    from mmsdt.utils.launch import build_runner
    cfg = Config.fromfile(str(CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{root}/'
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].batch_size = 2
    cfg.train_cfg.max_iters = 1
    cfg.model.head.update(model_head)
    if hook is not None:
        cfg.custom_hooks = [h for h in cfg.custom_hooks if h.type != 'mmsdt.ClassDataCheckHook']
        cfg.custom_hooks.append(dict(type='mmsdt.ClassDataCheckHook', **hook))
    cfg.load_from = load_from
    cfg.work_dir = str(work_dir)
    return build_runner(cfg)  # the config's runner_type, mmsdt.SafeRunner


def test_head_with_another_class_count_stops_before_the_first_step(data, tmp_path):
    runner = _runner(data, tmp_path / 'w', num_classes=5)
    with pytest.raises(ClassDataError, match=r"train data set CustomDataset \(.*train\) has 6 "
                       r"classes \('checkered', 'circle', .*\) but model\.head\.num_classes = 5; "
                       r'set model\.head\.num_classes to 6'):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'w').rglob('*.pth'))


def test_data_preprocessor_class_count_is_checked(data, tmp_path):
    """Its num_classes one-hot encodes the labels for Mixup / CutMix."""
    from mmengine.config import Config

    from mmsdt.utils.launch import build_runner
    cfg = Config.fromfile(str(CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{data}/'
    cfg.data_preprocessor.num_classes = 10
    cfg.work_dir = str(tmp_path / 'w')
    with pytest.raises(ClassDataError, match=r'but data_preprocessor\.num_classes = 10; set '
                       r'data_preprocessor\.num_classes to 6'):
        build_runner(cfg).train()


def test_renamed_val_folder_is_named_before_the_first_step(data, tmp_path):
    """A renamed val folder (same image count) shifts every label after it: 'zring' sorts last."""
    (data / 'val' / 'ring').rename(data / 'val' / 'zring')
    runner = _runner(data, tmp_path / 'w')
    with pytest.raises(ClassDataError, match=r"the val data set CustomDataset \(.*/val\) has "
                       r"other classes than the train data set CustomDataset \(.*/train\): val "
                       r"has 'zring' where train has 'ring'; label 2 is 'ring' in train but "
                       r"'square' in val"):
        runner.train()
    assert runner.iter == 0


def test_checkpoint_classes_are_compared_with_the_test_data(data, tmp_path):
    """The issue's case: a checkpoint evaluated on a val set with a renamed class folder."""
    import torch
    train_run = _runner(data, tmp_path / 'train')
    train_run.train()
    ckpt = tmp_path / 'train' / 'iter_1.pth'
    meta = torch.load(ckpt, map_location='cpu', weights_only=True)['meta']
    assert list(meta['dataset_meta']['classes']) == list(TOY_CLS_CLASSES)
    assert meta['dataset_class_folders'] == list(TOY_CLS_CLASSES)

    (data / 'val' / 'ring').rename(data / 'val' / 'zring')
    runner = _runner(data, tmp_path / 'test', load_from=str(ckpt))
    with pytest.raises(ClassDataError, match=r"the loaded checkpoint was trained on other "
                       r"classes than the test data set CustomDataset \(.*/val\): test has "
                       r"'zring' where the checkpoint has 'ring'"):
        runner.test()
    # opt-out: the run evaluates (on shifted labels)
    runner = _runner(data, tmp_path / 'test2', load_from=str(ckpt),
                     hook=dict(check_checkpoint=False))
    assert 'accuracy/top1' in runner.test()


def test_fine_tuning_from_load_from_onto_other_classes_only_warns(data, tmp_path, monkeypatch):
    train_run = _runner(data, tmp_path / 'train')
    train_run.train()
    for split in ('train', 'val'):
        (data / split / 'ring').rename(data / split / 'zring')
    runner = _runner(data, tmp_path / 'tune', load_from=str(tmp_path / 'train' / 'iter_1.pth'))
    warnings = []
    monkeypatch.setattr(runner.logger, 'warning', lambda msg, *a, **k: warnings.append(msg))
    runner.train()
    assert runner.iter == 1
    assert any("train has 'zring' where the checkpoint has 'ring'" in w and 'fine-tuning' in w
               for w in warnings)


def test_the_checks_can_be_switched_off(data, tmp_path):
    (data / 'val' / 'ring').rename(data / 'val' / 'zring')
    runner = _runner(data, tmp_path / 'w', num_classes=7,
                     hook=dict(check_class_names=False, check_num_classes=False))
    runner.train()
    assert runner.iter == 1


def test_empty_class_folder_is_named(data, tmp_path):
    empty = data / 'train' / 'zebra'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no images here')  # not an image extension: skipped
    runner = _runner(data, tmp_path / 'w', num_classes=7)
    with pytest.raises(ClassDataError, match=r'1 class folder\(s\) hold no image .*'
                       + str(empty).replace('.', r'\.')):
        runner.train()
    assert runner.iter == 0


def test_non_image_files_are_skipped_and_a_run_passes_the_check(data, tmp_path):
    from mmengine.registry import DefaultScope
    (data / 'train' / 'circle' / 'notes.txt').write_text('a stray file')
    (data / 'train' / 'circle' / 'Thumbs.db').write_bytes(b'\x00\x01')
    runner = _runner(data, tmp_path / 'w')
    runner.train()  # one step: the check passed and the stray files were never read
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = runner.train_dataloader.dataset
        assert len(dataset) == 2 * len(TOY_CLS_CLASSES)
        paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
        assert all(p.endswith('.JPEG') for p in paths)


def test_corrupt_jpeg_fails_with_its_path(data, mmpretrain_scope):
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS
    victim = data / 'train' / 'ring' / 'ring_000001.JPEG'
    victim.write_bytes(b'\xff\xd8\xff\xe0 this is not really a JPEG')
    cfg = Config.fromfile(str(CONFIG))
    cfg.train_dataloader.dataset.data_root = f'{data}/'
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    index = [i for i in range(len(dataset))
             if dataset.get_data_info(i)['img_path'] == str(victim)][0]
    with pytest.raises(Exception, match=victim.name):
        dataset[index]


def test_check_ignores_data_sets_without_classes():
    """Data sets that do not scan folders or give classes are left alone (a check that
    cannot be made must not raise)."""
    from mmsdt.engine.hooks import check_class_data

    class Plain:
        metainfo = {}

        def __len__(self):
            return 0

    check_class_data(Plain(), 10, 'train')


class _Data:
    """A data set with classes (what the hook reads of it)."""

    def __init__(self, classes):
        self.metainfo = dict(classes=tuple(classes))
        self.ann_file = 'ann.json'


def _fake_runner(resume=False, **datasets):
    from types import SimpleNamespace
    from unittest import mock

    from torch import nn
    runner = SimpleNamespace(model=nn.Module(), _resume=resume, logger=mock.Mock())
    for split, data in datasets.items():
        setattr(runner, f'_{split}_loop', SimpleNamespace(dataloader=SimpleNamespace(
            dataset=data)))
    return runner


@pytest.mark.parametrize('mode', ['test', 'resume', 'load_from'])
def test_checkpoint_classes_error_when_evaluating_or_resuming_warn_when_fine_tuning(mode):
    from mmsdt.engine import ClassDataCheckHook
    checkpoint = dict(meta=dict(dataset_meta=dict(classes=('cat', 'dog'))))
    other = _Data(['cat', 'wolf'])
    runner = _fake_runner(resume=mode == 'resume',
                          **(dict(test=other) if mode == 'test' else dict(train=other)))
    hook = ClassDataCheckHook()
    if mode == 'load_from':
        hook.after_load_checkpoint(runner, checkpoint)
        message = runner.logger.warning.call_args[0][0]
        assert "train has 'wolf' where the checkpoint has 'dog'" in message
        assert 'fine-tuning' in message
    else:
        split = 'test' if mode == 'test' else 'train'
        with pytest.raises(ClassDataError, match=rf"other classes than the {split} data set "
                           rf"_Data \(ann\.json\): {split} has 'wolf' where the checkpoint "
                           r"has 'dog'"):
            hook.after_load_checkpoint(runner, checkpoint)
    # same classes, a checkpoint without stored classes, or the check off: nothing happens
    hook.after_load_checkpoint(_fake_runner(test=_Data(['cat', 'dog'])), checkpoint)
    hook.after_load_checkpoint(runner, dict(state_dict={}))
    ClassDataCheckHook(check_checkpoint=False).after_load_checkpoint(runner, checkpoint)


def test_test_data_is_compared_with_a_built_train_data_set():
    from mmsdt.engine import ClassDataCheckHook
    runner = _fake_runner(train=_Data(['a', 'b', 'c']), test=_Data(['a', 'c', 'b']))
    with pytest.raises(ClassDataError, match=r"same names in another order: label 1 is 'b' in "
                       r"train but 'c' in test"):
        ClassDataCheckHook().before_test(runner)
