# Stage-4 policy comparison: the paper's stride-16 stage 4 (levels 4, 8, 16, 16 + 32 from the
# neck). Anchor strides and RoI featmap_strides follow the real levels; the anchor base sizes
# keep the stock anchor sizes 32..512 (base size x scale 8). See README.md (stage-4 policy).
_base_ = './mask-rcnn_e-spikeformer-2.7m_spike-fpn_1xb4-720i_toy-coco.py'

model = dict(
    backbone=dict(stage4_stride=1),
    rpn_head=dict(anchor_generator=dict(strides=[4, 8, 16, 16, 32],
                                        base_sizes=[4, 8, 16, 32, 64])),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[4, 8, 16, 16]),
                  mask_roi_extractor=dict(featmap_strides=[4, 8, 16, 16])))

# 600 iterations: the schedule of the comparison in README.md
max_iters = 600
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [_base_.param_scheduler[0], dict(_base_.param_scheduler[1], end=max_iters)]
