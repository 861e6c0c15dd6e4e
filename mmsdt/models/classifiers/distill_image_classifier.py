"""Hard distillation from a frozen teacher given as any mmpretrain config plus checkpoint."""
import inspect
import os
from typing import List, Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.models import ImageClassifier
from mmpretrain.structures import DataSample
from torch import nn

from mmsdt.registry import MODELS
from mmsdt.utils.checkpoint import load_model_checkpoint


class _SharedTeacher:
    """Holds the teacher outside the student's module tree.

    The teacher is then no part of the student's ``state_dict``, ``parameters`` (optimizer,
    layer decay), checkpoints or DDP; ``deepcopy`` (mmengine's EMA copy of the student)
    shares it instead of copying it.
    """

    def __init__(self, module: nn.Module):
        self.module = module

    def __deepcopy__(self, memo):
        return self


def load_config(path: str) -> Config:
    """A config file, or a package's config named ``'mmpretrain::convnext/....py'``."""
    if '::' in path:
        from mmengine.hub import get_config
        return get_config(path)
    return Config.fromfile(path)


def build_teacher(config: Union[str, dict, Config], checkpoint: str) -> nn.Module:
    """The classifier of an mmpretrain config, loaded strictly and safely, frozen, in eval mode.

    Args:
        config: a config file (``mmpretrain::`` paths allowed) or a loaded config whose
            ``model`` is a classifier.
        checkpoint: its weights (an mmpretrain / mmengine checkpoint file), read with
            :func:`mmsdt.utils.checkpoint.load_model_checkpoint`: every key must fit.
    """
    if not checkpoint:
        raise ValueError('teacher: a checkpoint is required (teacher=dict(config=..., '
                         'checkpoint=PATH)); a teacher with random weights teaches nothing')
    if not os.path.isfile(os.fspath(checkpoint)):
        raise FileNotFoundError(f'teacher checkpoint not found: {checkpoint}')
    cfg = load_config(config) if isinstance(config, str) else Config(dict(config))
    if 'model' not in cfg:
        raise ValueError(f'teacher config {config if isinstance(config, str) else "<dict>"} '
                         f'has no "model" key')
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model_cfg.pop('init_cfg', None)
    model_cfg.pop('pretrained', None)
    if isinstance(model_cfg.get('backbone'), dict):
        model_cfg.backbone.pop('init_cfg', None)  # the checkpoint holds every weight
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS as PRETRAIN_MODELS
        teacher = PRETRAIN_MODELS.build(model_cfg)
    load_model_checkpoint(teacher, checkpoint)
    teacher.requires_grad_(False)
    return teacher.eval()


@MODELS.register_module()
class DistillImageClassifier(ImageClassifier):
    """mmpretrain's ImageClassifier that trains its head with hard labels of a frozen teacher.

    In training (``mode='loss'``), the teacher classifies the same inputs the student gets
    (after the data preprocessor and its batch augmentation, e.g. mixup / cutmix), and the
    argmax of its logits goes to the head as ``teacher_labels``:
    ``head.loss(feats, data_samples, teacher_labels=...)`` (e.g.
    :class:`mmsdt.models.heads.SpikeDistillClsHead`, whose ``head_kd`` learns them). Prediction
    and ``mode='tensor'`` are the student's alone, exactly as ``ImageClassifier``.

    The teacher is built from any mmpretrain config and loaded strictly and safely from its
    checkpoint (:func:`build_teacher`). It stays frozen in eval mode and outside the student's
    state dict, parameters and checkpoints (so the student's checkpoints evaluate with the
    plain ``ImageClassifier`` config); ``.to()`` / ``.cuda()`` move it with the student.

    Args:
        teacher (dict): ``dict(config=PATH_OR_CONFIG, checkpoint=PATH)``.
        **kwargs: the arguments of mmpretrain's ImageClassifier.
    """

    def __init__(self, teacher: dict, **kwargs):
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(**kwargs)
        if not isinstance(teacher, dict) or set(teacher) - {'config', 'checkpoint'} or \
                'config' not in teacher:
            raise ValueError(f'teacher must be dict(config=..., checkpoint=...), got {teacher!r}')
        if 'teacher_labels' not in inspect.signature(self.head.loss).parameters:
            raise TypeError(f'DistillImageClassifier: the head {type(self.head).__name__} has no '
                            f'`teacher_labels` argument in loss(); use a distillation head such '
                            f'as mmsdt.SpikeDistillClsHead')
        built = build_teacher(teacher['config'], teacher.get('checkpoint'))
        self._check_teacher(built, teacher['config'])
        self._teacher = _SharedTeacher(built)

    @property
    def teacher(self) -> nn.Module:
        """The frozen teacher classifier (not a submodule)."""
        return self._teacher.module

    def _check_teacher(self, teacher: nn.Module, source) -> None:
        name = source if isinstance(source, str) else '<teacher config>'
        student_classes = getattr(self.head, 'num_classes', None)
        teacher_classes = getattr(getattr(teacher, 'head', None), 'num_classes', None)
        if None not in (student_classes, teacher_classes) and student_classes != teacher_classes:
            raise ValueError(f'teacher {name}: head.num_classes {teacher_classes} differs from the '
                             f'student head.num_classes {student_classes}')
        # the teacher sees the student's preprocessed inputs: the normalisation must agree
        for attr in ('mean', 'std'):
            mine = getattr(self.data_preprocessor, attr, None)
            theirs = getattr(teacher.data_preprocessor, attr, None)
            if isinstance(mine, torch.Tensor) and isinstance(theirs, torch.Tensor) and (
                    mine.shape != theirs.shape or not torch.allclose(mine, theirs)):
                raise ValueError(f'teacher {name}: data_preprocessor.{attr} '
                                 f'{theirs.flatten().tolist()} differs from the student\'s '
                                 f'{mine.flatten().tolist()} (the teacher sees the student\'s '
                                 f'preprocessed inputs)')

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if '_teacher' in self.__dict__:
            self.teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if '_teacher' in self.__dict__:
            self.teacher.eval()
        return self

    @torch.no_grad()
    def teacher_labels(self, inputs: torch.Tensor) -> torch.Tensor:
        """The teacher's hard labels (B,) of preprocessed inputs (B, C, H, W)."""
        logits = self.teacher(inputs, mode='tensor')
        if not (isinstance(logits, torch.Tensor) and logits.dim() == 2
                and logits.shape[0] == inputs.shape[0]):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits)
            raise ValueError(f'teacher {type(self.teacher).__name__} returned {shape} for inputs '
                             f'{tuple(inputs.shape)}; expected logits (B, num_classes)')
        return logits.argmax(dim=1)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        """The head's losses with the teacher's hard labels of ``inputs``."""
        feats = self.extract_feat(inputs)
        return self.head.loss(feats, data_samples, teacher_labels=self.teacher_labels(inputs))

    def extra_repr(self) -> str:
        return f'teacher={type(self.teacher).__name__} (frozen, not in the state dict)'
