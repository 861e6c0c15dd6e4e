# The generated ADE-style toy set (tools/dataset_converters/make_toy_data.py ade --out
# data/toy_ade): 4 classes stored as 1..4 with 0 = unlabelled, so reduce_zero_label maps them
# to 0..3 and 255.
# mmseg's ADE20KDataset accepts only the 150 ADE names, hence BaseSegDataset with its layout.
# The 256-px images are resized to 128 px for training and testing (a cheaper step on CPU);
# mIoU is computed on the original 256-px label maps.
# Training: every sample gets the shapes of two more training images pasted on at their own
# position (mmsdt.SegCopyPaste inside mmseg's MultiImageMixDataset; pasted shapes hide what
# they cover, label and image together): more shapes per step at no model cost.
data_root = 'data/toy_ade/'
classes = ('background', 'circle', 'square', 'triangle')
metainfo = dict(classes=classes,
                palette=[(120, 120, 120), (220, 20, 60), (0, 110, 255), (0, 170, 60)])
scale = (128, 128)

load_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(type='mmsdt.CheckSegLabels', num_classes=len(classes)),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
shape_ids = (1, 2, 3)  # circle, square, triangle after reduce_zero_label
train_pipeline = [
    dict(type='mmsdt.SegCopyPaste', classes=shape_ids),
    dict(type='mmsdt.SegCopyPaste', classes=shape_ids),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),  # reduce_zero_label comes from the dataset
    dict(type='mmsdt.CheckSegLabels', num_classes=len(classes)),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=metainfo,
               img_suffix='.jpg', seg_map_suffix='.png', reduce_zero_label=True)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='MultiImageMixDataset', pipeline=train_pipeline,
                 dataset=dict(**dataset, pipeline=load_pipeline,
                              data_prefix=dict(img_path='images/training',
                                               seg_map_path='annotations/training'))))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**dataset, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation')))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
