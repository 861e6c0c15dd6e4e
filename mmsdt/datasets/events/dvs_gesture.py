"""DVS128 Gesture (IBM), read in the original release's layout or tonic's preprocessed one."""
import csv
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mmsdt.registry import DATASETS
from .base import EventClsDataset, list_files, natural_sorted, require_dir

_TRIAL = re.compile(r'^user(\d+)_(\w+?)(\.aedat)?$')


@DATASETS.register_module()
class DVS128Gesture(EventClsDataset):
    """DVS128 Gesture: 11 gesture classes, 128x128 sensor, the official split by user
    (users 1-23 train, 24-29 test).

    Two layouts of the same release are read (``layout='auto'`` picks the one present):

    * ``'original'`` -- IBM's ``DvsGesture/`` folder: ``userNN_<lighting>.aedat`` (AEDAT 3.1)
      with ``userNN_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes
      1-11) and the split lists ``trials_to_train.txt`` / ``trials_to_test.txt``. Every
      labelled interval is one sample: its data info holds the recording's path and
      ``t_start`` / ``t_end`` (µs), and :class:`~mmsdt.datasets.events.loading.LoadEvents`
      keeps the events with ``t_start <= t < t_end``.
    * ``'tonic'`` -- tonic's preprocessed copy: ``ibmGestureTrain/`` or ``ibmGestureTest/``
      with ``userNN_<lighting>/<label>.npy`` ((N, 4) arrays x, y, p, t in ms; labels 0-10).

    With ``check_user_split`` (default) a trial of a user outside the split's users (1-23 for
    train, 24-29 for test) is an error: it would leak test users into training.

    Args:
        data_root (str): the ``DvsGesture`` folder (original) or the folder holding
            ``ibmGestureTrain`` / ``ibmGestureTest`` (tonic's ``DVSGesture`` folder).
        split (str): ``'train'`` or ``'test'``.
        layout (str): ``'auto'``, ``'original'`` or ``'tonic'``.
        check_user_split (bool): check every trial's user against the official split.
        **kwargs: see :class:`~mmsdt.datasets.events.base.EventClsDataset`.
    """

    METAINFO = dict(
        classes=('hand_clapping', 'right_hand_wave', 'left_hand_wave', 'right_arm_clockwise',
                 'right_arm_counter_clockwise', 'left_arm_clockwise',
                 'left_arm_counter_clockwise', 'arm_roll', 'air_drums', 'air_guitar',
                 'other_gestures'),
        sensor_size=(128, 128))
    USERS = dict(train=range(1, 24), test=range(24, 30))
    LAYOUTS = ('auto', 'original', 'tonic')

    def __init__(self, data_root: str, split: str = 'train', layout: str = 'auto',
                 check_user_split: bool = True, classes: Optional[Sequence[str]] = None,
                 **kwargs) -> None:
        if layout not in self.LAYOUTS:
            raise ValueError(f'DVS128Gesture: layout {layout!r} is not one of {self.LAYOUTS}')
        self.layout = layout
        self.check_user_split = check_user_split
        super().__init__(data_root=data_root, split=split, classes=classes, **kwargs)

    # layout detection -------------------------------------------------------------------
    def _trial_list(self) -> str:
        return osp.join(self.data_root, f'trials_to_{self.split}.txt')

    def _tonic_dir(self) -> str:
        return osp.join(self.data_root, 'ibmGestureTrain' if self.split == 'train'
                        else 'ibmGestureTest')

    def resolved_layout(self) -> str:
        """The layout read: ``self.layout`` or, for ``'auto'``, the one found in data_root."""
        if self.layout != 'auto':
            return self.layout
        if osp.isfile(self._trial_list()):
            return 'original'
        if osp.isdir(self._tonic_dir()):
            return 'tonic'
        raise FileNotFoundError(
            f'DVS128Gesture: {self.data_root} holds neither the original release '
            f'(trials_to_{self.split}.txt) nor tonic\'s layout ({osp.basename(self._tonic_dir())}/)')

    def split_location(self) -> str:
        """The split list (original layout) or split folder (tonic layout)."""
        return self._trial_list() if self.resolved_layout() == 'original' else self._tonic_dir()

    def _check_user(self, trial: str, source: str) -> Tuple[int, str]:
        match = _TRIAL.match(trial)
        if match is None:
            raise ValueError(f'DVS128Gesture: {source}: trial name {trial!r} is not '
                             f'user<NN>_<lighting>')
        user, lighting = int(match.group(1)), match.group(2)
        if self.check_user_split and user not in self.USERS[self.split]:
            users = self.USERS[self.split]
            raise ValueError(
                f'DVS128Gesture: {source}: user {user} is not a {self.split} user of the '
                f'official split (users {users.start}-{users.stop - 1}); pass '
                f'check_user_split=False for another split')
        return user, lighting

    def list_samples(self) -> List[Dict]:
        """Data infos of the split in the resolved layout."""
        if self.resolved_layout() == 'original':
            return self._list_original()
        return self._list_tonic()

    # original release --------------------------------------------------------------------
    def _list_original(self) -> List[Dict]:
        trial_list = self._trial_list()
        if not osp.isfile(trial_list):
            raise FileNotFoundError(f'DVS128Gesture: split list {trial_list} does not exist')
        with open(trial_list) as f:
            trials = [line.strip() for line in f if line.strip()]
        samples = []
        for trial in trials:
            user, lighting = self._check_user(trial, trial_list)
            path = osp.join(self.data_root, trial)
            if not osp.isfile(path):
                raise FileNotFoundError(f'DVS128Gesture: {path} (listed in {trial_list}) '
                                        f'does not exist')
            labels_csv = osp.join(self.data_root, f'{osp.splitext(trial)[0]}_labels.csv')
            for label, t_start, t_end in self._read_labels(labels_csv):
                samples.append(dict(events_path=path, t_start=t_start, t_end=t_end,
                                    gt_label=label, user=user, lighting=lighting))
        return samples

    def _read_labels(self, labels_csv: str) -> List[Tuple[int, int, int]]:
        """(label, t_start, t_end) of every row of a ``_labels.csv`` (class ids 1-11)."""
        if not osp.isfile(labels_csv):
            raise FileNotFoundError(f'DVS128Gesture: label file {labels_csv} does not exist')
        rows = []
        with open(labels_csv, newline='') as f:
            for lineno, row in enumerate(csv.reader(f), start=1):
                if not row or not ''.join(row).strip():
                    continue
                if lineno == 1 and not row[0].strip().lstrip('-').isdigit():
                    continue  # header: class,startTime_usec,endTime_usec
                where = f'{labels_csv} line {lineno}'
                if len(row) != 3:
                    raise ValueError(f'DVS128Gesture: {where}: expected 3 fields '
                                     f'(class,startTime_usec,endTime_usec), got {row}')
                try:
                    cls_id, t_start, t_end = (int(v) for v in row)
                except ValueError:
                    raise ValueError(f'DVS128Gesture: {where}: fields are not integers: '
                                     f'{row}') from None
                label = self.check_label(cls_id - 1, f'{where} (class id {cls_id})')
                if t_end <= t_start:
                    raise ValueError(f'DVS128Gesture: {where}: end time {t_end} is not after '
                                     f'start time {t_start}')
                rows.append((label, t_start, t_end))
        if not rows:
            raise ValueError(f'DVS128Gesture: label file {labels_csv} lists no gesture')
        return rows

    # tonic layout -----------------------------------------------------------------------
    def _list_tonic(self) -> List[Dict]:
        root = require_dir(self._tonic_dir(), 'DVS128Gesture (tonic layout)')
        samples = []
        for trial in natural_sorted(d for d in os.listdir(root)
                                    if osp.isdir(osp.join(root, d))):
            user, lighting = self._check_user(trial, osp.join(root, trial))
            folder = osp.join(root, trial)
            for name in list_files(folder, ('.npy', )):
                stem = osp.splitext(name)[0]
                path = osp.join(folder, name)
                if not stem.isdigit():
                    raise ValueError(f'DVS128Gesture: {path}: tonic\'s layout names a sample '
                                     f'<label>.npy; {name!r} carries no label')
                samples.append(dict(events_path=path,
                                    gt_label=self.check_label(int(stem), path),
                                    user=user, lighting=lighting))
        return samples
