# Prophesee Gen1 automotive detection (304x240 ATIS; classes car, pedestrian) in its release
# layout: data/gen1/{train,val,test}/<name>_td.dat + <name>_bbox.npy. A sample is a labelled
# timestamp of a recording; its input is the events of the preceding 250 ms (SpikeYOLO's
# window, reference dvs.md §6) cut into T = 4 frames of equal duration (62.5 ms) in TRUE time
# order (frame 0 = oldest; SpikeYOLO's loader reverses it), ON / OFF counts as 2 channels. A
# window without events is an all-zero input. Boxes partly outside the sensor (present in the
# release) are clipped to it and boxes left empty dropped, as RVT does.
dataset_type = 'mmsdt.PropheseeDetDataset'
data_root = 'data/gen1/'
classes = ('car', 'pedestrian')
sensor_size = (304, 240)  # (W, H)
num_frames = 4
window_us = 250000
metainfo = dict(classes=classes, sensor_size=sensor_size)

pipeline = [
    dict(type='mmsdt.LoadEventWindow'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames, align='window'),
    dict(type='mmsdt.PackEventDetInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', release='gen1',
                 metainfo=metainfo, window_us=window_us, clip_boxes=True,
                 filter_cfg=dict(filter_empty_gt=True), pipeline=pipeline))
# every labelled timestamp of every recording, in order
val_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', release='gen1',
                 metainfo=metainfo, window_us=window_us, clip_boxes=True, test_mode=True,
                 pipeline=pipeline))
test_dataloader = dict(
    batch_size=8, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', release='gen1',
                 metainfo=metainfo, window_us=window_us, clip_boxes=True, test_mode=True,
                 pipeline=pipeline))
# The Prophesee protocol (Gen1): the first 0.5 s of each recording skipped, boxes with a
# diagonal under 30 px or a side under 10 px removed, COCO mAP through pycocotools.
val_evaluator = dict(type='mmsdt.PropheseeDetMetric', classes=classes, width=sensor_size[0],
                     height=sensor_size[1], skip_ts_us=500000, min_box_diag=30,
                     min_box_side=10, prefix='event')
test_evaluator = val_evaluator
