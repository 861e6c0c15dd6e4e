# The 171M spike-driven Transformer classifier (reference §3.1, upstream `spikformer12_768`,
# 171,740,714 parameters with head_kd): mmsdt.ESpikeFormerLarge '171m' (embed_dims 196 / 384 /
# 768 - the released fine-tuning width; no RepConv2; layer scales 1e-6) -> stock token mean ->
# mmsdt.SpikeDistillClsHead. D and the fine-tuning pieces as in e-spikeformer-large-83m.py.
_base_ = './e-spikeformer-large-83m.py'

model = dict(backbone=dict(arch='171m'), head=dict(in_channels=768))
