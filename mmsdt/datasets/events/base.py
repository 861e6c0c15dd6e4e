"""The base of the event-camera classification data sets.

:class:`EventClsDataset` is mmpretrain's ``BaseDataset`` for a public release read in its own
folder layout: no annotation file, a ``split`` instead, and data infos that name a recording
(``events_path``) or a frame folder (``frame_dir``), its ``gt_label`` and the sensor size
``(W, H)`` of the data set's metainfo. Listing reads folder names only; decoding happens in the
pipeline (:class:`~mmsdt.datasets.events.loading.LoadEvents`).

The helpers here do the checks every release shares: a class list that does not match the
class folders, an empty split or class and a missing folder are errors that name the folder.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mmpretrain.datasets import BaseDataset

_DIGITS = re.compile(r'(\d+)')


def natural_key(name: str) -> Tuple:
    """Sort key comparing runs of digits as numbers (``'f2' < 'f10'``).

    Event releases number their files without zero padding (``cifar10_airplane_10.aedat``,
    ``9.png``, ``10.png``), so a plain string sort would break their order.
    """
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def natural_sorted(names) -> List[str]:
    """``names`` sorted by :func:`natural_key`."""
    return sorted(names, key=natural_key)


def require_dir(path: str, what: str) -> str:
    """Return ``path`` if it is a folder, else raise ``FileNotFoundError`` naming it and
    ``what`` was expected there."""
    if not osp.isdir(path):
        raise FileNotFoundError(f'{what}: folder {path} does not exist')
    return path


def list_files(folder: str, extensions: Sequence[str]) -> List[str]:
    """Names of the plain files in ``folder`` ending in one of ``extensions`` (case-
    insensitive), in :func:`natural_key` order."""
    exts = tuple(e.lower() for e in extensions)
    return natural_sorted(name for name in os.listdir(folder)
                          if name.lower().endswith(exts) and osp.isfile(osp.join(folder, name)))


def check_class_folders(root: str, classes: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` if the sub-folders of ``root`` are not exactly ``classes``.

    A folder that is not a class and a class without a folder both mean the class list does
    not match the data; the error names ``root`` and the differing names.
    """
    folders = {name for name in os.listdir(root) if osp.isdir(osp.join(root, name))}
    extra = natural_sorted(folders - set(classes))
    missing = [c for c in classes if c not in folders]
    if extra or missing:
        parts = []
        if extra:
            parts.append(f'folder(s) not in `classes`: {", ".join(extra)}')
        if missing:
            parts.append(f'class(es) without a folder: {", ".join(missing)}')
        raise ValueError(f'{what}: the class folders of {root} do not match the class list '
                         f'({"; ".join(parts)})')


class EventClsDataset(BaseDataset):
    """mmpretrain ``BaseDataset`` for an event-camera classification release.

    Subclasses set ``METAINFO`` (``classes`` and ``sensor_size`` ``(W, H)``), ``SPLITS`` and
    implement :meth:`list_samples`, which returns data infos without ``sensor_size`` (added
    here). An empty split is an error naming the folder.

    Args:
        data_root (str): the release's root folder (see each data set for its tree).
        split (str): one of the class's ``SPLITS``.
        classes (Sequence[str], optional): class names; they must match the data (a folder
            that is not in the list, or a label outside it, is an error).
        **kwargs: the other arguments of mmpretrain's ``BaseDataset`` (``pipeline``,
            ``test_mode``, ``metainfo``, ``indices``, ``lazy_init`` ...).
    """

    SPLITS: Tuple[str, ...] = ('train', 'test')

    def __init__(self, data_root: str, split: str = 'train',
                 classes: Optional[Sequence[str]] = None, **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'{type(self).__name__}: split {split!r} is not one of '
                             f'{self.SPLITS}')
        if not data_root:
            raise ValueError(f'{type(self).__name__}: data_root is empty')
        self.split = split
        kwargs.setdefault('ann_file', '')
        super().__init__(data_root=data_root, classes=classes, **kwargs)

    @property
    def sensor_size(self) -> Tuple[int, int]:
        """The sensor size ``(W, H)`` of the metainfo."""
        return tuple(self.metainfo['sensor_size'])

    def list_samples(self) -> List[Dict]:
        """Data infos of ``self.split`` (``events_path`` or ``frame_dir``, ``gt_label``)."""
        raise NotImplementedError

    def split_location(self) -> str:
        """The folder or file the split is read from, for error messages."""
        return self.data_root

    def load_data_list(self) -> List[Dict]:
        """List the split's samples; an empty split is an error naming its folder."""
        require_dir(self.data_root, f'{type(self).__name__} data_root')
        samples = self.list_samples()
        if not samples:
            raise ValueError(f'{type(self).__name__}: the {self.split} split is empty '
                             f'({self.split_location()} holds no sample)')
        sensor_size = self.sensor_size
        for info in samples:
            info['sensor_size'] = sensor_size
        return samples

    def class_index(self) -> Dict[str, int]:
        """Class name -> label of the metainfo's class list."""
        return {name: i for i, name in enumerate(self.metainfo['classes'])}

    def check_label(self, label: int, source: str) -> int:
        """Return ``label`` if it indexes the class list, else raise naming ``source``."""
        num = len(self.metainfo['classes'])
        if not 0 <= label < num:
            raise ValueError(f'{type(self).__name__}: label {label} of {source} is outside the '
                             f'class list (0..{num - 1})')
        return label

    def extra_repr(self) -> List[str]:
        """The split and sensor size for ``repr``."""
        return [f'Split: \t{self.split}', f'Sensor size (W, H): \t{self.sensor_size}']
