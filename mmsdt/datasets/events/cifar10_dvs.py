"""CIFAR10-DVS, read from its class folders with a deterministic 9:1 split per class."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmsdt.registry import DATASETS
from .base import EventClsDataset, check_class_folders, list_files


@DATASETS.register_module()
class CIFAR10DVS(EventClsDataset):
    """CIFAR10-DVS: 10 classes, 128x128 sensor, ``<class>/<file>.aedat4`` (tonic's copy and
    the DV re-release) or ``<class>/<file>.aedat`` (the original AEDAT 2 release).

    The release has no train/test split. This one is deterministic: the files of each class
    are sorted by name with digit runs compared as numbers (``..._2`` before ``..._10``, i.e.
    the release's numbering), the last ``floor(n * test_fraction + 0.5)`` files of each class are
    the test split and the others the train split (900 / 100 per class for the full release
    with the default 0.1). A class whose split would be empty is an error naming its folder.

    Args:
        data_root (str): the folder holding the 10 class folders.
        split (str): ``'train'`` or ``'test'``.
        test_fraction (float): the fraction of each class in the test split, in (0, 1).
        **kwargs: see :class:`~mmsdt.datasets.events.base.EventClsDataset`.
    """

    METAINFO = dict(classes=('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                             'horse', 'ship', 'truck'),
                    sensor_size=(128, 128))
    EXTENSIONS = ('.aedat4', '.aedat')

    def __init__(self, data_root: str, split: str = 'train', test_fraction: float = 0.1,
                 classes: Optional[Sequence[str]] = None, **kwargs) -> None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f'CIFAR10DVS: test_fraction must lie in (0, 1), got '
                             f'{test_fraction}')
        self.test_fraction = test_fraction
        super().__init__(data_root=data_root, split=split, classes=classes, **kwargs)

    def list_samples(self) -> List[Dict]:
        """Data infos of the split: the first or last files of every class folder."""
        classes = self.metainfo['classes']
        check_class_folders(self.data_root, classes, 'CIFAR10DVS')
        samples = []
        for label, name in enumerate(classes):
            folder = osp.join(self.data_root, name)
            files = list_files(folder, self.EXTENSIONS)
            n_test = int(len(files) * self.test_fraction + 0.5)  # round half up
            chosen = files[len(files) - n_test:] if self.split == 'test' else \
                files[:len(files) - n_test]
            if not chosen:
                raise ValueError(
                    f'CIFAR10DVS: class folder {folder} holds {len(files)} recording(s) '
                    f'({"/".join(self.EXTENSIONS)}), which leaves its {self.split} split empty '
                    f'with test_fraction={self.test_fraction}')
            samples += [dict(events_path=osp.join(folder, f), gt_label=label) for f in chosen]
        return samples
