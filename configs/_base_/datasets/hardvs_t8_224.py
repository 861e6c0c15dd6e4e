# HARDVS (mmsdt.HARDVS) as the paper's DVS code reads it (reference dvs.md section 3.1), with its
# defects corrected (section 8 items 10-15, 25): data/hardvs/list/{train,val,test}_label.txt and
# data/hardvs/rawframes/<action>/<recording>/<sub>/<frames>; every sub-folder is one sample.
# A clip is T = 8 consecutive frames in name order (digit runs compared as numbers): a random
# start in training, the centre in val / test (deterministic evaluation). Each frame: greyscale,
# short side 256 (bicubic), centre crop 224, then two binary channels from the grey value v:
# channel 0 = v < 0.12, channel 1 = 0.30 < v <= 0.78 (the paper's thresholds, tied to the
# rendering colours; `hardvs_thresholds` below). A folder with fewer than 8 frames is
# zero-padded at the end (the paper's handling; short_clip='error' refuses it). Training flips
# the whole clip horizontally with p = 0.5 (one draw per clip; the paper flipped each frame on
# its own). Model selection on val; test is evaluated by tools/test.py only.
# 24 clips per GPU (the paper: 3 GPUs x 24).
_base_ = './event_cls_loaders.py'

dataset_type = 'mmsdt.HARDVS'
data_root = 'data/hardvs/'
clip_len = 8
hardvs_thresholds = (0.12, 0.30, 0.78)
data_preprocessor = dict(type='mmsdt.EventDataPreprocessor', num_frames=clip_len,
                         num_classes=300)

train_pipeline = [
    dict(type='mmsdt.LoadHARDVSFrames', clip_len=clip_len, thresholds=hardvs_thresholds,
         scale=256, crop_size=224),
    dict(type='mmsdt.EventRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmsdt.PackEventInputs'),
]
test_pipeline = [
    dict(type='mmsdt.LoadHARDVSFrames', clip_len=clip_len, thresholds=hardvs_thresholds,
         scale=256, crop_size=224, test_mode=True),
    dict(type='mmsdt.PackEventInputs'),
]

train_dataloader = dict(
    batch_size=24, num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=24, num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=24, num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
