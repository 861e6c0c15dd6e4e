# E-SpikeFormer 10m on CIFAR-100 from scratch: the CIFAR-10 recipe with 100 classes, CIFAR-100's
# mean / std, top-1 and top-5.
_base_ = [
    '../../_base_/models/e-spikeformer-10m_cifar.py',
    '../../_base_/datasets/cifar100_bs128_sdt.py',
    '../../_base_/schedules/sdt_adamw_300e_cifar.py',
    'mmpretrain::_base_/default_runtime.py',
    '../../_base_/mmsdt_cls_runtime.py',
]

model = dict(head=dict(num_classes=100, topk=(1, 5)))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=5, max_keep_ckpts=3,
                                     save_best='auto'))
