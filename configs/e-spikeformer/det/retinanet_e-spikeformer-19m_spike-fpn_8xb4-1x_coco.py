# Spiking RetinaNet, E-SpikeFormer 19m, 12 epochs on COCO 2017 (boxes only: no mask loading).
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '../../_base_/spike_det_recipe.py']
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'],
                      allow_failed_imports=False)

pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
model = dict(
    type='mmsdt.SpikeRetinaNet',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # levels 8, 16, 32 from the backbone + 64, 128 from extra convs = stock anchor strides
    neck=dict(_delete_=True, type='mmsdt.SpikeFPN', in_channels=[64, 128, 256, 360],
              out_channels=256, start_level=1, add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(type='mmsdt.SpikeRetinaHead'))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomChoice', transforms=[
        [dict(type='RandomChoiceResize', scales={{_base_.sdt_ms_scales}}, keep_ratio=True)]]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=2, dataset=dict(pipeline=train_pipeline))
optim_wrapper = {{_base_.sdt_optim_wrapper}}
param_scheduler = {{_base_.sdt_param_scheduler}}
auto_scale_lr = {{_base_.sdt_auto_scale_lr}}
