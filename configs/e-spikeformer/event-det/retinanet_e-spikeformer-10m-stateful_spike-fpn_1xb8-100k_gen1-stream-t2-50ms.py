# Streaming variant of the Gen1 spiking RetinaNet: stateful integer IF neurons in the backbone
# (mmsdt.StreamingRetinaNet) carry their membrane from one 50 ms window (T = 2 frames of
# 25 ms) of a recording to the next and restart from zero at each recording's first sample
# (first_in_recording). Training runs 8 parallel streams (mmsdt.RecordingStreamSampler,
# num_streams = batch size: row b of consecutive batches holds consecutive windows of one
# recording); evaluation runs one stream (batch 1) so that every recording is seen in order.
# Gradients stop at window boundaries (the carried membrane is detached).
_base_ = ['./retinanet_e-spikeformer-10m_spike-fpn_1xb8-100k_gen1-t4-250ms.py']

num_frames = 2
window_us = 50000
model = dict(
    type='mmsdt.StreamingRetinaNet',
    data_preprocessor=dict(num_frames=num_frames),
    backbone=dict(neuron_mode='stateful'))
pipeline = [
    dict(type='mmsdt.LoadEventWindow'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames, align='window'),
    dict(type='mmsdt.PackEventDetInputs'),
]
train_dataloader = dict(
    batch_size=8,
    sampler=dict(_delete_=True, type='mmsdt.RecordingStreamSampler', num_streams=8,
                 shuffle=True),
    dataset=dict(window_us=window_us, pipeline=pipeline))
val_dataloader = dict(
    batch_size=1,
    sampler=dict(_delete_=True, type='mmsdt.RecordingStreamSampler', num_streams=1,
                 shuffle=False, round_up=False),
    dataset=dict(window_us=window_us, pipeline=pipeline))
test_dataloader = dict(
    batch_size=1,
    sampler=dict(_delete_=True, type='mmsdt.RecordingStreamSampler', num_streams=1,
                 shuffle=False, round_up=False),
    dataset=dict(window_us=window_us, pipeline=pipeline))
