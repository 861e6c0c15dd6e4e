# E-SpikeFormer 10m classifier for event frames (B, T, 2, H, W): 2 input channels (OFF, ON), the
# stateless neuron (every frame independent, as the paper's DVS model; T averaged after the last
# neuron), the averaged stage-4 output -> integer spike -> Linear (mmsdt.SpikeLinearClsHead),
# label smoothing 0.1, top-1 and top-5. A config sets arch (with the head's in_channels),
# num_classes and its backbone options by key.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.ESpikeFormer', arch='10m', in_channels=2, out_indices=(4, ),
                  neuron_mode='stateless'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=10, in_channels=240,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, 5),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))
