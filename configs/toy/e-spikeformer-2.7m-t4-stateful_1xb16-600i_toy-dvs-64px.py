# The toy event-camera config with the stateful neuron: every backbone neuron is the
# multi-step integer IF (H_t = V_{t-1} + X_t, S_t = round(clamp(H_t, 0, D)), V_t = H_t - S_t;
# decay 1, threshold 1), whose membrane carries over the T = 4 frames of one forward call;
# data, model size and schedule as the stateless default.
_base_ = ['./e-spikeformer-2.7m-t4_1xb16-600i_toy-dvs-64px.py']

model = dict(backbone=dict(neuron_mode='stateful', neuron_cfg=dict(decay=1.0, v_threshold=1.0)))
