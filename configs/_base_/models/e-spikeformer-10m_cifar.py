# E-SpikeFormer 10m classifier for 32x32 images: the 7x7 stem at stride 1 (stem_stride=1: stage
# strides 1, 2, 4, 8, 8, so the last map is 4x4 instead of 2x2), drop path 0.1, the averaged
# stage-4 output -> integer spike -> Linear (mmsdt.SpikeLinearClsHead), label smoothing 0.1.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmsdt.ESpikeFormer', arch='10m', out_indices=(4, ), stem_stride=1,
                  drop_path_rate=0.1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='mmsdt.SpikeLinearClsHead', num_classes=10, in_channels=240,
              loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
              topk=(1, ),
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))
