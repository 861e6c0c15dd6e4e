"""The pipeline checks: mmsdt.CheckImageSize (decoded image vs the annotation file's size) and
the size check of mmsdt.CheckSegLabels (label map vs its image), alone and in the configs'
pipelines, where they stop a run with the files and sizes named."""
import json

import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config

from mmsdt.datasets import CheckImageSize, CheckSegLabels, generate_toy_ade

# pycocotools' decode trips a numpy 2 DeprecationWarning on every call; it is not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')
TOY_SEG = 'configs/toy/fpn_e-spikeformer-2.7m_spike-fpn_1xb4-1300i_toy-ade-128x128.py'


def _image_results(shape, height, width):
    return dict(img=np.zeros(shape + (3, ), np.uint8), ori_shape=shape, img_path='x/a.jpg',
                height=height, width=width)


def test_check_image_size_names_the_file_and_both_sizes():
    with pytest.raises(ValueError, match=r'x/a.jpg: the image is 1x1 \(HxW\) but the '
                       r'annotation file says 313x289;'):
        CheckImageSize()(_image_results((1, 1), 313, 289))
    with pytest.raises(ValueError, match='swapped: an EXIF orientation'):
        CheckImageSize()(_image_results((289, 313), 313, 289))
    ok = _image_results((313, 289), 313, 289)
    assert CheckImageSize()(ok) is ok


def test_check_image_size_passes_data_without_annotation_sizes():
    # inference: the Inferencers' loaders give no height / width
    results = dict(img=np.zeros((5, 7, 3), np.uint8), ori_shape=(5, 7))
    assert CheckImageSize()(results) is results


def test_one_pixel_image_in_a_coco_data_set_stops_at_loading(tmp_path):
    from mmdet.datasets.transforms import LoadAnnotations

    from mmsdt.datasets import CheckedCocoDataset
    cv2.imwrite(str(tmp_path / 'a.jpg'), np.zeros((1, 1, 3), np.uint8))
    poly = [2.0, 2.0, 50.0, 2.0, 50.0, 40.0, 2.0, 40.0]
    data = dict(images=[dict(id=1, file_name='a.jpg', height=313, width=289)],
                categories=[dict(id=1, name='circle')],
                annotations=[dict(id=5, image_id=1, category_id=1, bbox=[2, 2, 48, 38],
                                  area=1824, iscrowd=0, segmentation=[poly])])
    (tmp_path / 'ann.json').write_text(json.dumps(data))
    pipeline = [LoadImageFromFile(), CheckImageSize(),
                LoadAnnotations(with_bbox=True, with_mask=True)]
    dataset = CheckedCocoDataset(ann_file=str(tmp_path / 'ann.json'),
                                 data_prefix=dict(img=f'{tmp_path}/'), pipeline=pipeline,
                                 metainfo=dict(classes=('circle', )))
    with pytest.raises(ValueError, match=r'a.jpg: the image is 1x1 \(HxW\) but the annotation '
                       r'file says 313x289'):
        dataset[0]
    cv2.imwrite(str(tmp_path / 'a.jpg'), np.zeros((313, 289, 3), np.uint8))
    assert dataset[0]['gt_masks'].masks.shape == (1, 313, 289)


def _seg_results(img_shape, ori_shape, seg_shape):
    return dict(img=np.zeros(img_shape + (3, ), np.uint8), ori_shape=ori_shape,
                gt_seg_map=np.zeros(seg_shape, np.uint8), img_path='img/a.jpg',
                seg_map_path='ann/a.png')


def test_check_seg_labels_names_both_files_and_sizes():
    with pytest.raises(ValueError, match=r'ann/a.png: the label map is 8x8 \(HxW\) but its '
                       r'image img/a.jpg is 8x10$'):
        CheckSegLabels(num_classes=4)(_seg_results((8, 10), (8, 10), (8, 8)))
    ok = _seg_results((8, 10), (8, 10), (8, 10))
    assert CheckSegLabels(num_classes=4)(ok) is ok


def test_check_seg_labels_after_a_test_time_resize():
    # mmseg's test pipelines resize the image before LoadAnnotations: the label keeps the
    # decoded image's size (ori_shape), which is what IoUMetric compares with
    ok = _seg_results((4, 5), (8, 10), (8, 10))
    assert CheckSegLabels(num_classes=4)(ok) is ok
    with pytest.raises(ValueError, match='label map is 4x5 .* is 8x10; it has the size of the '
                       'transformed image: put mmsdt.CheckSegLabels right after'):
        CheckSegLabels(num_classes=4)(_seg_results((4, 5), (8, 10), (4, 5)))


@pytest.fixture
def toy_ade_with_a_small_label(tmp_path):
    """A toy ADE set whose first training and validation label maps are 200x256 instead of
    the images' 256x256."""
    root = tmp_path / 'ade'
    generate_toy_ade(str(root), num_train=3, num_val=2)
    for split in ('training', 'validation'):
        path = root / 'annotations' / split / '000000.png'
        label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(path), label[:200])
    return root


@pytest.mark.usefixtures('repo_root', 'mmseg_scope')
def test_toy_seg_test_pipeline_stops_before_the_metric(toy_ade_with_a_small_label):
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(TOY_SEG)
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.data_root = str(toy_ade_with_a_small_label)
    dataset = DATASETS.build(dataset_cfg)
    # without the check, IoUMetric meets a 200x256 label and a 256x256 prediction (IndexError)
    with pytest.raises(ValueError, match=r'validation/000000.png: the label map is 200x256 '
                       r'\(HxW\) but its image .*validation/000000.jpg is 256x256'):
        dataset[0]
    assert dataset[1]['data_samples'].gt_sem_seg.data.shape[-2:] == (256, 256)


@pytest.mark.usefixtures('repo_root', 'mmseg_scope')
def test_toy_seg_train_pipeline_stops_before_copy_paste(toy_ade_with_a_small_label):
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(TOY_SEG)
    cfg.train_dataloader.dataset.dataset.data_root = str(toy_ade_with_a_small_label)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    with pytest.raises(ValueError, match=r'training/000000.png: the label map is 200x256'):
        dataset[0]
