# The generated toy event set (make run TASK=dvs, or
# tools/dataset_converters/make_toy_data.py dvs --out data/toy_dvs) in the N-MNIST release
# layout: data/toy_dvs/{Train,Test}/<class>/NNNNNN.bin (ATIS .bin), 8 motion classes, 64x64
# sensor; read by the N-MNIST data set with the toy classes and sensor size in its metainfo
# (Test is the toy val split). Each recording (~94 ms) is cut into T = 4 frames of equal
# duration (tonic's ToFrame rule), ON / OFF counts as 2 channels. Training: a random 56x56
# window, the same for the 4 frames; val / test: the central one. No flips: a horizontal flip
# turns move_left into move_right and rotate_cw into rotate_ccw.
dataset_type = 'mmsdt.NMNIST'
data_root = 'data/toy_dvs/'
num_frames = 4
metainfo = dict(
    classes=('contract', 'expand', 'move_down', 'move_left', 'move_right', 'move_up',
             'rotate_ccw', 'rotate_cw'),
    sensor_size=(64, 64))
data_preprocessor = dict(type='mmsdt.EventDataPreprocessor', num_frames=num_frames,
                         num_classes=8)

train_pipeline = [
    dict(type='mmsdt.LoadEvents'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames),
    dict(type='mmsdt.EventRandomCrop', crop_size=56),
    dict(type='mmsdt.PackEventInputs'),
]
test_pipeline = [
    dict(type='mmsdt.LoadEvents'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames),
    dict(type='mmsdt.EventCenterCrop', crop_size=56),
    dict(type='mmsdt.PackEventInputs'),
]

train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', metainfo=metainfo,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', metainfo=metainfo,
                 pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
