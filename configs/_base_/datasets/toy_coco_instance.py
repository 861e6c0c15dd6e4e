# The generated toy COCO set (tools/dataset_converters/make_toy_data.py coco --out
# data/toy_coco): circles, squares and triangles on 256-320 px images, resized to 192 px (a
# cheaper step on CPU).
# Training uses Simple Copy-Paste (mmdet's CopyPaste inside MultiImageMixDataset): every image
# gets all shapes of a second one pasted at their own position; the masks and boxes of what
# they hide are updated, and shapes left with <= 40 px and a moved box are dropped. More shapes
# per step at no model cost. CopyPaste needs equal sizes, hence the padding to img_scale with
# the mean colour (0 after normalisation, as the batch padding).
# Data checks: mmsdt.CheckedCocoDataset stops on a bad annotation (unknown category, empty or
# degenerate polygon, empty box, ...) naming the file, annotation id and image;
# mmsdt.CheckImageSize stops on an image whose decoded size is not the JSON's.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

data_root = 'data/toy_coco/'
classes = ('circle', 'square', 'triangle')
metainfo = dict(classes=classes, palette=[(220, 20, 60), (0, 110, 255), (0, 170, 60)])
img_scale = (192, 192)

load_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmsdt.CheckImageSize'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(103.53, 116.28, 123.675))),
    # the raw annotations (polygons) are spent: not deep-copied by the mixing wrapper
    dict(type='mmsdt.DropKeys', keys=['instances']),
]
train_pipeline = [
    dict(type='CopyPaste', selected=False, bbox_occluded_thr=10, mask_occluded_thr=40),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='mmsdt.CheckImageSize'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(_delete_=True, type='MultiImageMixDataset', pipeline=train_pipeline,
                 dataset=dict(type='mmsdt.CheckedCocoDataset', data_root=data_root,
                              metainfo=metainfo, ann_file='annotations/instances_train.json',
                              data_prefix=dict(img='train/'),
                              filter_cfg=dict(filter_empty_gt=True, min_size=32),
                              pipeline=load_pipeline)))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    dataset=dict(type='mmsdt.CheckedCocoDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator
