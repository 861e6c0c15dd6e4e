# Spiking RetinaNet with the E-SpikeFormer 10m backbone on Prophesee 1Mpx (3 evaluated
# classes): T = 4 event frames of the 250 ms before each labelled timestamp (true time
# order), 1280x720 padded to 1280x736, from scratch, 100k iterations of 4 samples (1 GPU),
# Prophesee protocol mAP with the 1Mpx size filter (README.md).
_base_ = [
    '../../_base_/models/retinanet_e-spikeformer-10m_events.py',
    '../../_base_/datasets/1mpx_det_t4_250ms.py',
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
# objects of 1Mpx are larger in pixels: anchors from 64 px at stride 8 ... 406 px at stride 32
model = dict(data_preprocessor=dict(num_frames=_base_.num_frames),
             bbox_head=dict(num_classes=len(_base_.classes),
                            anchor_generator=dict(octave_base_scale=8)))
# lr 2e-4 * sqrt(4 / 8) for 4 samples per step (RVT's scaling rule)
optim_wrapper = dict(optimizer=dict(lr=1.4e-4))
auto_scale_lr = dict(base_batch_size=4)
