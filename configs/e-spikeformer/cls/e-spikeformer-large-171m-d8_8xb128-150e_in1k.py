# The 171M model, "1x8" (D = 8 in the backbone's neurons and before head_kd), otherwise
# e-spikeformer-large-171m-d4_8xb128-150e_in1k.py. Evaluates the released file 171M_1x8.
_base_ = './e-spikeformer-large-171m-d4_8xb128-150e_in1k.py'

model = dict(backbone=dict(max_value=8), head=dict(max_value=8))
