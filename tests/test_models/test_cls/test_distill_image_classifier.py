"""mmsdt.DistillImageClassifier: a frozen mmpretrain teacher (any config + checkpoint, loaded
strictly) outside the student's state dict, its hard labels in the head's loss, the student
alone at prediction."""
import copy

import pytest
import torch
from mmengine.config import Config

from mmsdt.utils import CheckpointError

pytestmark = pytest.mark.usefixtures('mmpretrain_scope')

NARROW = dict(embed_dims=(16, 32, 64), depth=2, num_heads=2, mlp_ratio=4, rep_conv2=True)
PREPROCESSOR = dict(type='ClsDataPreprocessor', num_classes=3, mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], to_rgb=True)


def teacher_config(num_classes=3, mean=None):
    """A small mmpretrain ResNet-18 classifier config (width 8), as a teacher."""
    preprocessor = dict(PREPROCESSOR, num_classes=num_classes)
    if mean is not None:
        preprocessor['mean'] = mean
    return Config(dict(model=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes, in_channels=64)),
        data_preprocessor=preprocessor))


@pytest.fixture
def teacher_files(tmp_path):
    """A teacher config file and a checkpoint of its random weights (mmengine layout)."""
    from mmpretrain.registry import MODELS
    cfg = teacher_config()
    path = tmp_path / 'teacher.py'
    cfg.dump(str(path))
    torch.manual_seed(0)
    teacher = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    ckpt = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict(), meta=dict()), ckpt)
    return str(path), str(ckpt), teacher.state_dict()


def student_cfg(teacher, head_type='mmsdt.SpikeDistillClsHead'):
    head = dict(type=head_type, num_classes=3, in_channels=64)
    if head_type == 'mmsdt.SpikeDistillClsHead':
        head.update(max_value=4, alpha=0.5)
    return dict(type='mmsdt.DistillImageClassifier', teacher=teacher,
                backbone=dict(type='mmsdt.ESpikeFormerLarge', arch=NARROW),
                neck=dict(type='GlobalAveragePooling'), head=head,
                data_preprocessor=PREPROCESSOR)


def _build(cfg):
    from mmpretrain.registry import MODELS
    torch.manual_seed(1)
    return MODELS.build(cfg)


def _samples(labels):
    from mmpretrain.structures import DataSample
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_teacher_is_loaded_frozen_and_outside_the_student(teacher_files):
    config, ckpt, teacher_sd = teacher_files
    model = _build(student_cfg(dict(config=config, checkpoint=ckpt)))
    for k, v in teacher_sd.items():  # the checkpoint's weights, not a fresh initialisation
        assert torch.equal(model.teacher.state_dict()[k], v), k
    assert not any(k.startswith('teacher') or '_teacher' in k for k in model.state_dict())
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert not teacher_params & {id(p) for p in model.parameters()}
    assert not any(p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert model.training and not model.teacher.training
    # mmengine's EMA deep-copies the student: the teacher is shared, not copied
    assert copy.deepcopy(model).teacher is model.teacher
    model.double()
    assert next(model.teacher.parameters()).dtype == torch.float64


def test_loss_uses_the_teachers_hard_labels(teacher_files):
    config, ckpt, _ = teacher_files
    model = _build(student_cfg(dict(config=config, checkpoint=ckpt))).train()
    torch.manual_seed(2)
    inputs = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        teacher_labels = model.teacher(inputs, mode='tensor').argmax(dim=1)
    # labels that disagree with the teacher everywhere: the kd loss must see the teacher's
    labels = (teacher_labels + 1) % 3
    samples = _samples(labels)
    torch.manual_seed(3)
    losses = model.loss(inputs, samples)
    feats = model.extract_feat(inputs)
    expected = model.head.loss(feats, samples, teacher_labels=teacher_labels)
    without = model.head.loss(feats, samples)
    assert torch.allclose(losses['loss_head_kd'], expected['loss_head_kd'])
    assert torch.allclose(losses['loss_head'], without['loss_head'])
    assert not torch.allclose(losses['loss_head_kd'], without['loss_head_kd'])


def test_prediction_is_the_students_alone(teacher_files):
    from mmpretrain.registry import MODELS
    config, ckpt, _ = teacher_files
    model = _build(student_cfg(dict(config=config, checkpoint=ckpt))).eval()
    plain_cfg = student_cfg(None)
    plain_cfg.pop('teacher')
    plain = MODELS.build(dict(plain_cfg, type='ImageClassifier')).eval()
    plain.load_state_dict(model.state_dict(), strict=True)  # same keys: the student's only
    inputs = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(inputs, mode='tensor'), plain(inputs, mode='tensor'))


def test_teacher_checkpoint_is_loaded_strictly(teacher_files, tmp_path):
    config, ckpt, teacher_sd = teacher_files
    partial = {k: v for k, v in teacher_sd.items() if not k.startswith('head.')}
    bad = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=partial), bad)
    with pytest.raises(CheckpointError, match='head.fc.weight'):
        _build(student_cfg(dict(config=config, checkpoint=str(bad))))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _build(student_cfg(dict(config=config, checkpoint=str(tmp_path / 'missing.pth'))))
    with pytest.raises(ValueError, match='checkpoint is required'):
        _build(student_cfg(dict(config=config, checkpoint=None)))


def test_mismatched_teachers_and_heads_are_refused(teacher_files, tmp_path):
    config, ckpt, _ = teacher_files
    with pytest.raises(TypeError, match='teacher_labels'):
        _build(student_cfg(dict(config=config, checkpoint=ckpt), head_type='LinearClsHead'))
    from mmpretrain.registry import MODELS
    for name, cfg, match in (('classes', teacher_config(num_classes=5), 'num_classes 5'),
                             ('mean', teacher_config(mean=[0., 0., 0.]), 'data_preprocessor.mean')):
        path = tmp_path / f'{name}.py'
        cfg.dump(str(path))
        other = MODELS.build(dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
        other_ckpt = tmp_path / f'{name}.pth'
        torch.save(dict(state_dict=other.state_dict()), other_ckpt)
        with pytest.raises(ValueError, match=match):
            _build(student_cfg(dict(config=str(path), checkpoint=str(other_ckpt))))
