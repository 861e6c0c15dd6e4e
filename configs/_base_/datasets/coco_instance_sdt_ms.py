# COCO 2017 instance segmentation (mmdet's coco_instance.py) with the SDT-V3 training
# augmentation: random flip, then either a multi-scale resize (short side 480..800, long side
# <= 1333) or DETR-style cropping (resize to a short side of 400/500/600, crop 384..600 px,
# multi-scale resize); 4 images per GPU.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
             (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='mmsdt.CheckImageSize'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='mmsdt.CheckImageSize'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# Data checks (mmsdt.CheckedCocoDataset, mmsdt.CheckImageSize; docs/design.md). The official
# files hold a few degenerate annotations that stock mmdet drops silently (reported for
# train2017: ids 918 and 2206849, zero-height boxes with zero-area polygons), so these configs
# drop bad annotations with a count per kind in the log; remove bad_annotations='skip' to stop
# on them (the default), e.g. for your own data in COCO format.
train_dataloader = dict(
    batch_size=4, num_workers=2,
    dataset=dict(type='mmsdt.CheckedCocoDataset', bad_annotations='skip',
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='mmsdt.CheckedCocoDataset', bad_annotations='skip',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
