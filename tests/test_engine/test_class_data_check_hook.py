"""mmsdt.ClassDataCheckHook and bad ImageNet-layout folders: empty class folder, non-image
file, corrupt JPEG, head / data class-count mismatch."""
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


def _runner(root, work_dir, **model_head):
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = f'{root}/'
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].batch_size = 2
    cfg.train_cfg.max_iters = 1
    cfg.model.head.update(model_head)
    cfg.work_dir = str(work_dir)
    return Runner.from_cfg(cfg)


def test_head_with_another_class_count_stops_before_the_first_step(data, tmp_path):
    runner = _runner(data, tmp_path / 'w', num_classes=5)
    with pytest.raises(ClassDataError, match=r'has 6 classes but the model head has '
                       r'num_classes=5; set model\.head\.num_classes'):
        runner.train()
    assert runner.iter == 0 and not list((tmp_path / 'w').rglob('*.pth'))


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
