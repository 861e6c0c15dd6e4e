"""Heads' num_classes against the data set's classes for detection and segmentation (the
classification cases are in test_class_data_check_hook.py): the toy Mask R-CNN with 2 or 5
classes on 3-class COCO data and the toy Semantic FPN with too few classes stop before the
first step, naming the config keys; which heads of a model are compared."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mmsdt.datasets import generate_toy_ade, generate_toy_coco
from mmsdt.engine import ClassDataError
from mmsdt.engine.hooks.head_class_check import check_head_classes, head_num_classes

REPO = Path(__file__).resolve().parents[2]
TOY_DET = REPO / 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'
TOY_SEG = REPO / 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'
DET = REPO / 'configs/e-spikeformer/det'


def _runner(path, root, work_dir, edit):
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(path))
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        inner = loader.dataset.get('dataset', loader.dataset)  # inside MultiImageMixDataset
        inner.data_root = f'{root}/'
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.batch_size = 1
    if 'ann_file' in cfg.get('val_evaluator', {}):
        cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = \
            f'{root}/annotations/instances_val.json'
    # the check runs whether or not the config's custom_hooks list it already
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h.type != 'mmsdt.ClassDataCheckHook']
    cfg.custom_hooks.append(dict(type='mmsdt.ClassDataCheckHook'))
    cfg.train_cfg.max_iters = 1
    cfg.work_dir = str(work_dir)
    edit(cfg.model)
    return Runner.from_cfg(cfg)


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco') / 'toy_coco'
    generate_toy_coco(str(root), num_train=2, num_val=1)
    return root


@pytest.mark.parametrize('num_classes', [2, 5])
def test_detector_with_another_class_count_stops_before_the_first_step(coco, tmp_path,
                                                                       num_classes):
    def edit(model):
        model.roi_head.bbox_head.num_classes = num_classes
        model.roi_head.mask_head.update(num_classes=num_classes, class_agnostic=False)

    runner = _runner(TOY_DET, coco, tmp_path, edit)
    with pytest.raises(ClassDataError, match=(
            r"the train data set \w*CocoDataset \(.*instances_train\.json\) has 3 classes "
            r"\('circle', 'square', 'triangle'\) but model\.roi_head\.bbox_head\.num_classes = "
            rf'{num_classes}, model\.roi_head\.mask_head\.num_classes = {num_classes}; set '
            r'model\.roi_head\.bbox_head\.num_classes and model\.roi_head\.mask_head\.num_classes '
            r'to 3')):
        runner.train()
    assert runner.iter == 0 and not list(tmp_path.rglob('*.pth'))


def test_segmentor_with_too_few_classes_stops_before_the_first_step(tmp_path):
    """Without the check: 'IndexError: Target 3 is out of bounds' in the first loss."""
    root = tmp_path / 'toy_ade'
    generate_toy_ade(str(root), num_train=2, num_val=1, size=64)

    def edit(model):
        model.decode_head.num_classes = 3
        model.auxiliary_head.num_classes = 3

    runner = _runner(TOY_SEG, root, tmp_path / 'w', edit)
    with pytest.raises(ClassDataError, match=(
            r"the train data set BaseSegDataset \(.*\) has 4 classes \('background', 'circle', "
            r"'square', 'triangle'\) but model\.decode_head\.num_classes = 3, "
            r'model\.auxiliary_head\.num_classes = 3; set model\.decode_head\.num_classes and '
            r'model\.auxiliary_head\.num_classes to 4')):
        runner.train()
    assert runner.iter == 0


@pytest.mark.usefixtures('mmdet_scope')
@pytest.mark.parametrize('name, keys', [
    ('cascade-mask-rcnn_e-spikeformer-19m_spike-fpn_8xb4-3x_coco.py',
     [f'model.roi_head.bbox_head[{i}].num_classes' for i in range(3)] +
     [f'model.roi_head.mask_head[{i}].num_classes' for i in range(3)]),
    ('retinanet_e-spikeformer-19m_spike-fpn_8xb4-1x_coco.py', ['model.bbox_head.num_classes']),
], ids=['cascade', 'retinanet'])
def test_every_class_predicting_head_is_found_and_the_rpn_is_not(name, keys):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    model = MODELS.build(Config.fromfile(str(DET / name)).model)
    assert head_num_classes(model) == [(key, 80) for key in keys]
    check_head_classes(model, [f'c{i}' for i in range(80)], 'coco')
    with pytest.raises(ClassDataError, match=r'has 3 classes .* but ' + keys[0].replace(
            '.', r'\.').replace('[', r'\[').replace(']', r'\]') + ' = 80'):
        check_head_classes(model, ['a', 'b', 'c'], 'coco')


def test_class_agnostic_and_binary_heads():
    from torch import nn

    class Head(nn.Module):
        def __init__(self, num_classes, **kw):
            super().__init__()
            self.num_classes = num_classes
            self.__dict__.update(kw)

    model = nn.Module()
    model.decode_head = Head(1, out_channels=1)
    model.mask_head = Head(1, class_agnostic=True)  # one mask per RoI: the count is unused
    model.rpn_head = Head(1)
    assert head_num_classes(model) == [('model.decode_head.num_classes', 1)]
    with pytest.raises(ClassDataError, match=r'set model\.decode_head\.num_classes to 2 \(mmseg '
                       r'binary segmentation: num_classes=2 with out_channels=1'):
        check_head_classes(model, ['background', 'road'], 'data')
