# Spike-masked autoencoder (SMA) pre-training of the 171m encoder on ImageNet-1k images without
# labels: the 83m config's algorithm, decoder and recipe (see it for the details) with the
# 171m encoder. The encoder is the fine-tuning model's 196-wide '171m' arch (upstream
# pre-trains a 192-wide encoder that its own 196-wide fine-tuning model cannot load,
# reference §3.3).
_base_ = ['./spikemae_e-spikeformer-large-83m_8xb256-200e_in1k.py']

model = dict(backbone=dict(arch='171m'), neck=dict(in_channels=768))
