# Spiking Cascade Mask R-CNN, E-SpikeFormer 19m, 36 epochs (steps at 27 and 33), with
# 4conv-1fc spiking bbox heads (SyncBN, GIoU loss) as in the paper's cascade config.
_base_ = ['mmdet::cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py',
          '../../_base_/spike_det_recipe.py']
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'],
                      allow_failed_imports=False)

pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
head_norm = dict(type='SyncBN', requires_grad=True)


def _bbox_head(stds):  # noqa: E302 - config helper
    return dict(
        type='mmsdt.SpikeShared4Conv1FCBBoxHead', in_channels=256, conv_out_channels=256,
        fc_out_channels=1024, roi_feat_size=7, num_classes=80, norm_cfg=head_norm,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=stds),
        reg_class_agnostic=False, reg_decoded_bbox=True,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    type='mmsdt.SpikeCascadeRCNN',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch='19m', out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(_delete_=True, type='mmsdt.SpikeFPN', in_channels=[64, 128, 256, 360],
              out_channels=256, num_outs=5),
    rpn_head=dict(type='mmsdt.SpikeRPNHead'),
    roi_head=dict(
        bbox_head=[
            _bbox_head([0.1, 0.1, 0.2, 0.2]),
            _bbox_head([0.05, 0.05, 0.1, 0.1]),
            _bbox_head([0.033, 0.033, 0.067, 0.067]),
        ],
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead')))
del _bbox_head

train_dataloader = dict(batch_size=4, num_workers=2,
                        dataset=dict(pipeline={{_base_.sdt_train_pipeline}}))
optim_wrapper = {{_base_.sdt_optim_wrapper}}
auto_scale_lr = {{_base_.sdt_auto_scale_lr}}
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33],
         gamma=0.1),
]
