# Spiking Mask R-CNN, E-SpikeFormer 19m, 12 epochs on COCO 2017 (8 GPUs x 4 images).
_base_ = ['mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', '../../_base_/spike_det_recipe.py']
custom_imports = dict(imports=['mmsdt.models', 'mmsdt.engine'],
                      allow_failed_imports=False)

# The released ImageNet file (or its converted copy) of the backbone; loaded strictly.
pretrained = 'checkpoints/e_spikeformer_19m_imagenet.pth'
arch, embed_dims = '19m', [64, 128, 256, 360]
neck_channels, fc_channels = 256, 1024

# Stage-4 policy: stage4_stride=2 gives the stock pyramid (strides 4, 8, 16, 32 + 64 from
# the neck), so the stock anchor strides and RoI featmap_strides are right; the released
# weights keep their shapes. SpikeMaskRCNN re-checks all strides when it is built.
model = dict(
    type='mmsdt.SpikeMaskRCNN',
    backbone=dict(
        _delete_=True, type='mmsdt.ESpikeFormer', arch=arch, out_indices=(1, 2, 3, 4),
        stage4_stride=2, drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(_delete_=True, type='mmsdt.SpikeFPN', in_channels=embed_dims,
              out_channels=neck_channels, num_outs=5),
    rpn_head=dict(type='mmsdt.SpikeRPNHead', in_channels=neck_channels,
                  feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(type='mmsdt.SpikeShared2FCBBoxHead', in_channels=neck_channels,
                       fc_out_channels=fc_channels),
        mask_roi_extractor=dict(out_channels=neck_channels),
        mask_head=dict(type='mmsdt.SpikeFCNMaskHead', in_channels=neck_channels,
                       conv_out_channels=neck_channels)))

train_dataloader = dict(batch_size=4, num_workers=2,
                        dataset=dict(pipeline={{_base_.sdt_train_pipeline}}))
optim_wrapper = {{_base_.sdt_optim_wrapper}}
param_scheduler = {{_base_.sdt_param_scheduler}}
auto_scale_lr = {{_base_.sdt_auto_scale_lr}}
