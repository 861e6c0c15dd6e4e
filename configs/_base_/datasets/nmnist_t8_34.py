# N-MNIST (mmsdt.NMNIST): data/nmnist/{Train,Test}/<digit>/*.bin, the release's own split.
# T = 8 frames of equal duration (num_bins) over each recording (its three saccades), 2
# polarity channels of counts at the sensor's 34x34. No flip (digits are not mirror-symmetric).
# The release has no val split; val is the test split.
_base_ = './event_cls_loaders.py'

dataset_type = 'mmsdt.NMNIST'
data_root = 'data/nmnist/'
num_frames = 8
data_preprocessor = dict(type='mmsdt.EventDataPreprocessor', num_frames=num_frames,
                         num_classes=10)

train_pipeline = [
    dict(type='mmsdt.LoadEvents'),
    dict(type='mmsdt.EventsToFrames', num_bins=num_frames),
    dict(type='mmsdt.PackEventInputs'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=128, dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, dataset=dict(type=dataset_type, data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
