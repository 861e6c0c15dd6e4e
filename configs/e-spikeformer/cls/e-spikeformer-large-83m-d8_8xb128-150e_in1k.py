# The 83M model, "1x8" (D = 8: integer spikes 0..8 in the backbone's neurons and before
# head_kd), otherwise e-spikeformer-large-83m-d4_8xb128-150e_in1k.py. Evaluates the released
# file 83M_1x8 (converted with --max-value 8, or from its file name).
_base_ = './e-spikeformer-large-83m-d4_8xb128-150e_in1k.py'

model = dict(backbone=dict(max_value=8), head=dict(max_value=8))
