# The generated toy event detection set (make run TASK=event-det, or
# mmsdt.datasets.generate_toy_event_det) in the Gen1 release layout:
# data/toy_event_det/{train,val}/NNNNNN_td.dat + NNNNNN_bbox.npy (Gen1 box dtype), classes car /
# pedestrian (Gen1's class ids 0 / 1), a 128x96 sensor, read by the same data set as real Gen1
# data. A sample is a labelled timestamp (every 50 ms); its input is the events of the
# preceding `window_us`, cut into T frames of equal duration in true time order (frame 0 =
# oldest), ON / OFF counts as 2 channels.
dataset_type = 'mmsdt.PropheseeDetDataset'
data_root = 'data/toy_event_det/'
classes = ('car', 'pedestrian')
sensor_size = (128, 96)  # (W, H)
num_frames = 2
window_us = 50000
metainfo = dict(classes=classes, sensor_size=sensor_size)

pipeline = [
    dict(type='mmsdt.LoadEventWindow'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames, align='window'),
    dict(type='mmsdt.PackEventDetInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', release='gen1',
                 metainfo=metainfo, window_us=window_us,
                 filter_cfg=dict(filter_empty_gt=True), pipeline=pipeline))
# every labelled timestamp, recordings in order (the metric groups them by recording)
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', release='gen1',
                 metainfo=metainfo, window_us=window_us, test_mode=True, pipeline=pipeline))
test_dataloader = val_dataloader
# The Prophesee protocol: labels and detections of the first 0.5 s skipped; boxes with a
# diagonal under 30 px or a side under 10 px removed (Gen1 values; every toy box passes them).
val_evaluator = dict(type='mmsdt.PropheseeDetMetric', classes=classes, width=sensor_size[0],
                     height=sensor_size[1], skip_ts_us=500000, min_box_diag=30,
                     min_box_side=10, prefix='event')
test_evaluator = val_evaluator
