# The data loaders and metric of the event-camera classification sets: shuffled training batches
# without the last partial one, val and test in order on the test split, top-1 / top-5 accuracy.
# A data set piece inherits this and sets the batch size and the data set (type, data_root,
# pipeline) by key; one whose release has a val split sets val's split.
train_dataloader = dict(
    num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(split='train'))
val_dataloader = dict(
    num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(split='test', test_mode=True))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
