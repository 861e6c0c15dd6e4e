# COCO 2017 boxes only (mmdet's coco_detection.py: no masks are loaded) with the multi-scale
# branch of the SDT-V3 augmentation: random flip, resize to a short side of 480..800 (long
# side <= 1333); 4 images per GPU.
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

ms_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
             (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice',
         transforms=[[dict(type='RandomChoiceResize', scales=ms_scales, keep_ratio=True)]]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=2, dataset=dict(pipeline=train_pipeline))
