# Spiking RetinaNet with the E-SpikeFormer 10m backbone on Prophesee Gen1: T = 4 event frames
# of the 250 ms before each labelled timestamp (true time order), 304x240 padded to 320x256,
# from scratch, 100k iterations of 8 samples (1 GPU), Prophesee protocol mAP (README.md).
_base_ = [
    '../../_base_/models/retinanet_e-spikeformer-10m_events.py',
    '../../_base_/datasets/gen1_det_t4_250ms.py',
    '../../_base_/schedules/sdt_adamw_100k_event_det.py',
    'mmdet::_base_/default_runtime.py', '../../_base_/mmsdt_runtime.py'
]
custom_imports = dict(
    imports=['mmsdt.models', 'mmsdt.engine', 'mmsdt.datasets', 'mmsdt.evaluation'],
    allow_failed_imports=False)
# iteration-based checkpoints (every validation) and logs
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3),
                     logger=dict(interval=50))
log_processor = dict(by_epoch=False)
model = dict(data_preprocessor=dict(num_frames=_base_.num_frames),
             bbox_head=dict(num_classes=len(_base_.classes)))
