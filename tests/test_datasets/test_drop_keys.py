"""DropKeys: spent keys leave the results dict; the toy detection set's training samples are
the same with and without it (it only saves the mixing wrapper's deep copies)."""
import os.path as osp

import numpy as np
import pytest
import torch

from mmsdt.datasets import DropKeys, generate_toy_coco


def test_named_keys_are_removed_and_absent_ones_ignored():
    results = dict(img=np.zeros((2, 2, 3)), instances=[dict(mask=[[0., 1.]])], other=1)
    out = DropKeys(keys=['instances', 'not_there'])(results)
    assert sorted(out) == ['img', 'other']


@pytest.mark.parametrize('keys', ['instances', []])
def test_bad_keys_are_refused(keys):
    with pytest.raises(ValueError, match='DropKeys: keys must be a non-empty list'):
        DropKeys(keys=keys)


CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets',
                  'toy_coco_instance.py')


def _train_samples(root, drop):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIG)
    dataset = cfg.train_dataloader.dataset
    dataset.dataset.data_root = root
    if not drop:
        dataset.dataset.pipeline = [t for t in dataset.dataset.pipeline
                                    if t['type'] != 'mmsdt.DropKeys']
    dataset = DATASETS.build(dataset)
    np.random.seed(0)
    return [dataset[i] for i in range(4)]


@pytest.mark.usefixtures('mmdet_scope')
def test_toy_coco_training_samples_unchanged(tmp_path):
    generate_toy_coco(str(tmp_path), num_train=8, num_val=2, seed=1)
    with_drop = _train_samples(str(tmp_path), True)
    without = _train_samples(str(tmp_path), False)
    for a, b in zip(with_drop, without):
        assert torch.equal(a['inputs'], b['inputs'])
        ga, gb = a['data_samples'].gt_instances, b['data_samples'].gt_instances
        assert torch.equal(ga.bboxes.tensor, gb.bboxes.tensor)
        assert torch.equal(ga.labels, gb.labels)
        assert np.array_equal(ga.masks.masks, gb.masks.masks)
        assert len(ga) > 0
