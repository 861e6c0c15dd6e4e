"""The toy detection config: its classes are the generator's, and its training pipeline
(copy-paste) yields consistent, richer samples."""
import numpy as np
import pytest
from mmengine.config import Config

from mmsdt.datasets import TOY_COCO_CLASSES, generate_toy_coco

TOY = 'configs/toy/mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'


@pytest.mark.usefixtures('repo_root')
def test_toy_classes_are_the_generators():
    cfg = Config.fromfile(TOY)
    assert tuple(cfg.classes) == TOY_COCO_CLASSES
    assert cfg.model.roi_head.bbox_head.num_classes == len(TOY_COCO_CLASSES)
    assert cfg.model.roi_head.mask_head.num_classes == len(TOY_COCO_CLASSES)


@pytest.mark.usefixtures('repo_root', 'mmdet_scope')
def test_copy_paste_training_samples(tmp_path):
    from mmdet.registry import DATASETS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    root = tmp_path / 'coco'
    generate_toy_coco(str(root), num_train=12, num_val=1)
    cfg = Config.fromfile(TOY)
    inner = cfg.train_dataloader.dataset.dataset
    inner.data_root = f'{root}/'
    mixed = DATASETS.build(cfg.train_dataloader.dataset)
    plain = DATASETS.build(inner)
    np.random.seed(0)
    more = 0
    for i in range(len(mixed)):
        sample = mixed[i]
        img, gt = sample['inputs'], sample['data_samples'].gt_instances
        assert tuple(img.shape) == (3, 192, 192)  # padded to img_scale for CopyPaste
        masks, boxes = gt.masks.masks, gt.bboxes.tensor.numpy()
        assert masks.shape == (len(gt), 192, 192) and len(boxes) == len(gt)
        assert set(gt.labels.tolist()) <= {0, 1, 2}
        for mask, box in zip(masks, boxes):
            ys, xs = np.nonzero(mask)
            assert len(ys) > 0, 'an instance without visible pixels was kept'
            # the box encloses the visible mask (pasted shapes cut the masks they cover)
            assert xs.min() >= box[0] - 1 and xs.max() <= box[2] + 1
            assert ys.min() >= box[1] - 1 and ys.max() <= box[3] + 1
        more += len(gt) > len(plain[i]['gt_bboxes_labels'])
    assert more >= len(mixed) // 2, 'copy-paste rarely added shapes'
