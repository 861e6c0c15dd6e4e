"""mmsdt.CheckedCocoDataset: the stock data list for valid files, and an error naming the file,
annotation id and image for each kind of bad data stock mmdet drops silently or fails on."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from mmdet.datasets import CocoDataset
from mmdet.datasets.transforms import LoadAnnotations
from pycocotools import mask as mask_utils

from mmsdt.datasets import CheckedCocoDataset, generate_toy_coco
from mmsdt.datasets import coco as coco_module
from mmsdt.datasets import coco_checks

# pycocotools' decode trips a numpy 2 DeprecationWarning on every call; it is not ours.
pytestmark = pytest.mark.filterwarnings('ignore:__array__ implementation:DeprecationWarning')
CLASSES = ('circle', 'square')
SQUARE = [2.0, 2.0, 12.0, 2.0, 12.0, 10.0, 2.0, 10.0]


def _ann(ann_id, image_id=1, **changes):
    ann = dict(id=ann_id, image_id=image_id, category_id=1, bbox=[2.0, 2.0, 10.0, 8.0],
               area=80.0, iscrowd=0, segmentation=[list(SQUARE)])
    ann.update(changes)
    return ann


def _coco(anns=None, images=None):
    images = images if images is not None else [
        dict(id=1, file_name='a.jpg', height=20, width=30),
        dict(id=2, file_name='b.jpg', height=20, width=30)]
    anns = anns if anns is not None else [_ann(10), _ann(11, image_id=2, category_id=2)]
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='circle'), dict(id=2, name='square')])


def _write(tmp_path, data, name='ann.json'):
    path = tmp_path / name
    path.write_text(json.dumps(data) if isinstance(data, dict) else data)
    return str(path)


def _build(tmp_path, data, masks=True, **kwargs):
    kwargs.setdefault('metainfo', dict(classes=CLASSES))
    return CheckedCocoDataset(ann_file=_write(tmp_path, data), data_prefix=dict(img=''),
                              pipeline=[LoadAnnotations(with_bbox=True, with_mask=masks)],
                              **kwargs)


def _raises(tmp_path, data, match, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        _build(tmp_path, data, **kwargs)
    return str(info.value)


def test_valid_toy_set_gives_the_stock_data_list(tmp_path):
    root = str(tmp_path / 'coco')
    generate_toy_coco(root, num_train=6, num_val=3, min_size=64, max_size=96)
    pipeline = [LoadAnnotations(with_bbox=True, with_mask=True)]
    for split, test_mode in (('train', False), ('val', True)):
        kwargs = dict(data_root=root, ann_file=f'annotations/instances_{split}.json',
                      data_prefix=dict(img=f'{split}/'), test_mode=test_mode,
                      metainfo=dict(classes=('circle', 'square', 'triangle')),
                      filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=pipeline)
        stock, checked = CocoDataset(**kwargs), CheckedCocoDataset(**kwargs)
        assert checked.loads_masks()
        assert len(checked) == len(stock) > 0
        assert checked.cat_ids == stock.cat_ids and checked.cat2label == stock.cat2label
        for i in range(len(stock)):
            assert checked.get_data_info(i) == stock.get_data_info(i)
        assert sum(len(checked.get_data_info(i)['instances']) for i in range(len(checked))) > 0


def test_category_id_not_in_categories(tmp_path):
    data = _coco([_ann(10), _ann(11, image_id=2, category_id=7)])
    msg = _raises(tmp_path, data, 'category_id not in categories')
    assert 'ann.json: 1 of 2 annotations are bad' in msg
    assert 'annotation id 11 (image b.jpg): category_id not in categories: category_id 7' in msg
    # stock mmdet makes the object background without a word
    stock = CocoDataset(ann_file=_write(tmp_path, data), metainfo=dict(classes=CLASSES),
                        data_prefix=dict(img=''))
    assert [len(stock.get_data_info(i)['instances']) for i in range(2)] == [1, 0]


def test_empty_segmentation_stops_when_masks_are_loaded(tmp_path):
    data = _coco([_ann(10), _ann(11, image_id=2, segmentation=[])])
    # stock mmdet: KeyError 'mask' in LoadAnnotations, i.e. in a data-loader worker
    stock = CocoDataset(ann_file=_write(tmp_path, data), metainfo=dict(classes=CLASSES),
                        data_prefix=dict(img=''),
                        pipeline=[LoadAnnotations(with_bbox=True, with_mask=True)])
    with pytest.raises(KeyError, match='mask'):
        stock.pipeline(dict(stock.get_data_info(1), img_shape=(20, 30), ori_shape=(20, 30)))
    msg = _raises(tmp_path, data, r'no segmentation \(masks are loaded\)')
    assert 'annotation id 11 (image b.jpg)' in msg and 'segmentation []' in msg


def test_missing_segmentation_stops_when_masks_are_loaded(tmp_path):
    ann = _ann(11, image_id=2)
    del ann['segmentation']
    _raises(tmp_path, _coco([_ann(10), ann]), r'annotation id 11 \(image b.jpg\): no segm')


def test_box_only_pipeline_accepts_empty_segmentation(tmp_path):
    # mmdet's VOC -> COCO converter writes segmentation: [] for every box
    data = _coco([_ann(10, segmentation=[]), _ann(11, image_id=2, segmentation=[])])
    dataset = _build(tmp_path, data, masks=False)
    assert not dataset.loads_masks()
    assert [len(dataset.get_data_info(i)['instances']) for i in range(2)] == [1, 1]
    # check_masks overrides the pipeline
    _raises(tmp_path, data, 'no segmentation', masks=False, check_masks=True)


@pytest.mark.parametrize('polygons, match', [
    ([[2.0, 2.0, 12.0, 2.0]], 'part 0 has 4 coordinates'),
    ([list(SQUARE) + [5.0]], 'part 0 has 9 coordinates'),
    ([list(SQUARE), [1.0, 1.0]], 'part 1 has 2 coordinates'),
    ([[2.0, 2.0, 'x', 2.0, 12.0, 10.0]], 'part 0 is not a list of finite numbers'),
], ids=['2-points', 'odd', 'second-part', 'not-numbers'])
def test_malformed_polygon(tmp_path, polygons, match):
    msg = _raises(tmp_path, _coco([_ann(10), _ann(11, image_id=2, segmentation=polygons)]),
                  match)
    assert 'annotation id 11 (image b.jpg): polygon with an odd number of coordinates or ' \
        'fewer than 3 points' in msg


@pytest.mark.parametrize('polygons', [
    [[2.0, 2.0, 7.0, 7.0, 12.0, 12.0]],  # collinear
    [[296.65, 388.33, 296.65, 388.33, 297.68, 388.33, 297.68, 388.33]],  # COCO train2017 id 918
], ids=['collinear', 'flat'])
def test_zero_area_polygon(tmp_path, polygons):
    _raises(tmp_path, _coco([_ann(10), _ann(11, image_id=2, segmentation=polygons)]),
            r'annotation id 11 \(image b.jpg\): zero-area polygon')


def test_rle_of_the_image_size_passes_and_of_another_size_stops(tmp_path):
    mask = np.zeros((20, 30), np.uint8, order='F')
    mask[2:10, 2:12] = 1
    rle = mask_utils.encode(mask)
    rle['counts'] = rle['counts'].decode()
    crowd = _ann(11, image_id=2, iscrowd=1, segmentation=rle)
    dataset = _build(tmp_path, _coco([_ann(10), crowd]))
    assert dataset.get_data_info(1)['instances'][0]['ignore_flag'] == 1  # stock: crowd ignored
    crowd['segmentation'] = dict(rle, size=[40, 30])
    _raises(tmp_path, _coco([_ann(10), crowd]), r'annotation id 11 .*RLE.*size \[40, 30\]')
    crowd['segmentation'] = dict(size=[20, 30])
    _raises(tmp_path, _coco([_ann(10), crowd]), r'annotation id 11 .*RLE without counts')


@pytest.mark.parametrize('box, kind', [
    ([2.0, 2.0, -5.0, 8.0], 'box width or height <= 0'),
    ([2.0, 2.0, 5.0, 0.0], 'box width or height <= 0'),
    ([2.0, 2.0, math.inf, 8.0], 'bbox is not 4 finite numbers'),
    ([2.0, 2.0, 5.0], 'bbox is not 4 finite numbers'),
    ([40.0, 2.0, 5.0, 8.0], 'box outside its image'),
], ids=['negative-width', 'zero-height', 'infinite', 'three-numbers', 'outside'])
def test_bad_box(tmp_path, box, kind):
    data = _coco([_ann(10), _ann(11, image_id=2, bbox=box)])
    msg = _raises(tmp_path, data, f'annotation id 11 \\(image b.jpg\\): {kind}')
    assert 'bbox' in msg


def test_box_under_one_pixel_is_dropped_as_in_stock(tmp_path):
    dataset = _build(tmp_path, _coco([_ann(10), _ann(11, image_id=2, bbox=[2, 2, 0.5, 8])]))
    assert len(dataset.get_data_info(1)['instances']) == 0


@pytest.mark.parametrize('area', [0.0, -3.0, None], ids=['zero', 'negative', 'null'])
def test_bad_area(tmp_path, area):
    _raises(tmp_path, _coco([_ann(10), _ann(11, image_id=2, area=area)]),
            r'annotation id 11 \(image b.jpg\): area missing, not finite or <= 0')


def test_unknown_image_id_and_missing_annotation_id(tmp_path):
    orphan = _ann(11, image_id=99)
    msg = _raises(tmp_path, _coco([_ann(10), orphan]), 'image_id not in images')
    assert 'annotation id 11: image_id not in images: image_id 99' in msg
    no_id = _ann(12)
    del no_id['id']
    _raises(tmp_path, _coco([_ann(10), no_id]), r'annotations\[1\] \(image a.jpg\): no "id"')


@pytest.mark.parametrize('image, match', [
    (dict(id=2, height=20, width=30), "images\\[1\\]: id 2: file_name None"),
    (dict(id=2, file_name='b.jpg', height=0, width=30), r'id 2 \(b.jpg\): height 0'),
    (dict(id=2, file_name='b.jpg', height=20), r'id 2 \(b.jpg\): width None'),
    (dict(id=1, file_name='b.jpg', height=20, width=30), 'duplicate image id'),
], ids=['no-file-name', 'zero-height', 'no-width', 'duplicate-id'])
def test_bad_image_entry_always_stops(tmp_path, image, match):
    images = [dict(id=1, file_name='a.jpg', height=20, width=30), image]
    msg = _raises(tmp_path, _coco([_ann(10)], images=images), match,
                  bad_annotations='skip')
    assert 'ann.json: 1 of 2 image entries are bad' in msg


def test_truncated_json_names_the_file(tmp_path):
    text = json.dumps(_coco())
    with pytest.raises(ValueError, match=r'ann.json: not valid JSON .*char \d+ of '
                       f'{len(text) // 2}.*truncated'):
        _build(tmp_path, text[:len(text) // 2])
    _raises(tmp_path, '[1, 2]', 'ann.json: the top level is a JSON list')


def test_missing_top_level_lists(tmp_path):
    data = _coco()
    del data['categories']
    _raises(tmp_path, data, r'ann.json: "categories" must be a list, it is missing')
    _raises(tmp_path, _coco(images=[]), r'ann.json: no images')


def test_empty_annotation_list_stops_a_training_set_only(tmp_path):
    # stock: "ValueError: need at least one array to concatenate" when serialising
    _raises(tmp_path, _coco([]), r'ann.json: no annotations \("annotations" is empty\)',
            filter_cfg=dict(filter_empty_gt=True))
    data = _coco()
    del data['annotations']  # COCO's image-info files for test-dev
    _raises(tmp_path, data, r'"annotations" is missing')
    assert len(_build(tmp_path, data, test_mode=True)) == 2


def test_no_image_left_after_filter_names_the_file(tmp_path):
    _raises(tmp_path, _coco(), r'ann.json: filter_cfg=.* leaves none of its 2 images',
            filter_cfg=dict(filter_empty_gt=True, min_size=32))


def test_classes_missing_from_the_categories(tmp_path):
    _raises(tmp_path, _coco(), r"class\(es\) \['sqaure'\] .*file \(\['circle', 'square'\]\)",
            metainfo=dict(classes=('circle', 'sqaure')))


def test_all_bad_annotations_are_counted_and_the_first_ten_listed(tmp_path):
    anns = [_ann(10)] + [_ann(100 + k, bbox=[2, 2, -1, 3]) for k in range(12)] + \
        [_ann(200 + k, category_id=9) for k in range(3)]
    msg = _raises(tmp_path, _coco(anns), 'are bad')
    assert 'ann.json: 15 of 16 annotations are bad (box width or height <= 0: 12, ' \
        'category_id not in categories: 3)' in msg
    listed = [line for line in msg.splitlines() if line.startswith('  annotation id')]
    assert [line.split()[2] for line in listed] == [str(100 + k) for k in range(10)]
    assert '... and 5 more' in msg and "bad_annotations='skip'" in msg


def test_skip_drops_bad_annotations_and_logs_the_count(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(coco_module, 'print_log', lambda msg, **kw: logged.append(msg))
    anns = [_ann(10), _ann(11, image_id=2), _ann(12, image_id=2, segmentation=[]),
            _ann(13, image_id=2, category_id=5)]
    dataset = _build(tmp_path, _coco(anns), bad_annotations='skip')
    assert [len(dataset.get_data_info(i)['instances']) for i in range(2)] == [1, 1]
    assert len(logged) == 1
    assert "skipped 2 of 4 annotations (no segmentation (masks are loaded): 1, category_id " \
        "not in categories: 1) (bad_annotations='skip')" in logged[0]
    assert 'annotation id 12 (image b.jpg)' in logged[0]


def test_skip_that_leaves_no_annotation_stops(tmp_path):
    _raises(tmp_path, _coco([_ann(10, category_id=5)]), 'no annotations left after skipping',
            bad_annotations='skip')


def test_unknown_policy_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"bad_annotations must be one of \('raise', 'skip'\)"):
        _build(tmp_path, _coco(), bad_annotations='ignore')


def test_check_functions_work_on_the_parsed_json():
    """The checks are plain functions (mmsdt.datasets.coco_checks, no mmdet import)."""
    data = _coco([_ann(10), _ann(11, image_id=2, bbox=[1, 1, 0, 0])])
    coco_checks.check_coco_structure(data, 'x.json', need_annotations=True)
    [bad] = coco_checks.find_bad_annotations(data, check_masks=False)
    assert (bad.index, bad.ann_id, bad.file_name, bad.kind) == (1, 11, 'b.jpg',
                                                                 coco_checks.EMPTY_BOX)
    assert coco_checks.drop_annotations(data, [bad])['annotations'] == [_ann(10)]


def test_configs_find_the_data_set_without_importing_mmsdt_datasets():
    """The COCO configs import mmsdt.models and mmsdt.engine only: the registry's location
    imports mmsdt.datasets when a config names mmsdt.CheckedCocoDataset."""
    code = ('import sys; import mmsdt.registry; from mmengine.registry import DATASETS; '
            'assert "mmsdt.datasets" not in sys.modules; '
            'print(DATASETS.get("mmsdt.CheckedCocoDataset").__name__)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == 'CheckedCocoDataset'
