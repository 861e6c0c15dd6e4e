# The generated toy classification set (make run TASK=cls, or
# tools/dataset_converters/make_toy_data.py cls --out data/toy_cls) in the ImageNet folder
# layout: data/toy_cls/{train,val}/<class>/*.JPEG, 6 classes, 64x64 images; read by mmpretrain's
# CustomDataset, which takes the classes from the folder names. Both pipelines first resize
# every image to 64x64 (a copy for the toy's own 64x64 images), so train and val inputs have
# one size whatever the images' size. Training: random crop 64 after a 4 px border (mmpretrain
# fills `padding` with pad_val 0; padding_mode applies only to images smaller than the crop,
# which mmsdt.CheckedRandomCrop pads and reports instead of leaving them small) and horizontal /
# vertical flips (the classes do not depend on orientation).
dataset_type = 'CustomDataset'
data_root = 'data/toy_cls/'
data_preprocessor = dict(num_classes=6, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=64),
    dict(type='mmsdt.CheckedRandomCrop', crop_size=64, padding=4, padding_mode='reflect'),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=64),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=32, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
