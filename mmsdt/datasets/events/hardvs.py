"""HARDVS, read from the release's rendered event frames and its list files."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmsdt.registry import DATASETS
from .base import EventClsDataset, natural_sorted, require_dir


@DATASETS.register_module()
class HARDVS(EventClsDataset):
    """HARDVS: 300 human-action classes recorded with a DAVIS346 (346x260), released as
    rendered event frames with mmaction2-style list files.

    ``<data_root>/<ann_dir>/<split>_label.txt`` has one line per recording with three
    space-separated fields: the recording folder relative to ``<data_root>/<data_prefix>``
    (``action_001/dvSave-...``), a second field that is not used (the frame count in
    mmaction2's convention) and the integer label. Every sub-folder of a listed recording
    folder is one sample (in name order) with that label; its frames are read by
    :class:`~mmsdt.datasets.events.loading.LoadHARDVSFrames`. The list files give labels, not
    names, so the class names are the label numbers ``'0'`` .. ``'299'``.

    The splits are ``train``, ``val`` and ``test``; the configs select the model on ``val``
    and report ``test`` (the paper's code evaluated and selected on test).

    Args:
        data_root (str): the HARDVS folder.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        ann_dir (str): the folder of the list files, relative to data_root.
        data_prefix (str): the frame folder, relative to data_root.
        **kwargs: see :class:`~mmsdt.datasets.events.base.EventClsDataset`.
    """

    METAINFO = dict(classes=tuple(str(i) for i in range(300)), sensor_size=(346, 260))
    SPLITS = ('train', 'val', 'test')

    def __init__(self, data_root: str, split: str = 'train', ann_dir: str = 'list',
                 data_prefix: str = 'rawframes', classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        self.ann_dir = ann_dir
        self.frames_prefix = data_prefix
        super().__init__(data_root=data_root, split=split, classes=classes, **kwargs)

    def split_location(self) -> str:
        """The split's list file."""
        return osp.join(self.data_root, self.ann_dir, f'{self.split}_label.txt')

    def list_samples(self) -> List[Dict]:
        """Data infos (``frame_dir``, ``gt_label``) of every sub-folder of every listed
        recording."""
        list_file = self.split_location()
        if not osp.isfile(list_file):
            raise FileNotFoundError(f'HARDVS: list file {list_file} does not exist')
        frames_root = require_dir(osp.join(self.data_root, self.frames_prefix),
                                  'HARDVS frames')
        samples = []
        with open(list_file) as f:
            for lineno, line in enumerate(f, start=1):
                fields = line.split()
                if not fields:
                    continue
                where = f'{list_file} line {lineno}'
                if len(fields) != 3:
                    raise ValueError(f'HARDVS: {where}: expected 3 fields (folder, frame '
                                     f'count, label), got {len(fields)}: {line.strip()!r}')
                try:
                    label = int(fields[2])
                except ValueError:
                    raise ValueError(f'HARDVS: {where}: label {fields[2]!r} is not an '
                                     f'integer') from None
                self.check_label(label, where)
                recording = osp.join(frames_root, fields[0])
                if not osp.isdir(recording):
                    raise FileNotFoundError(f'HARDVS: {where}: folder {recording} does not '
                                            f'exist')
                subs = natural_sorted(d for d in os.listdir(recording)
                                      if osp.isdir(osp.join(recording, d)))
                if not subs:
                    raise ValueError(f'HARDVS: {where}: folder {recording} has no sub-folder '
                                     f'of frames (expected <recording>/<sub>/<frames>)')
                samples += [dict(frame_dir=osp.join(recording, s), gt_label=label)
                            for s in subs]
        return samples
