# COCO 2017 instance segmentation (mmdet's coco_instance.py) with the SDT-V3 training
# augmentation: random flip, then either a multi-scale resize (short side 480..800, long side
# <= 1333) or DETR-style cropping (resize to a short side of 400/500/600, crop 384..600 px,
# multi-scale resize); 4 images per GPU.
_base_ = 'mmdet::_base_/datasets/coco_instance.py'

ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
             (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
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
train_dataloader = dict(batch_size=4, num_workers=2, dataset=dict(pipeline=train_pipeline))
