"""N-MNIST, read from the release's ``Train`` / ``Test`` digit folders."""
import os.path as osp
from typing import Dict, List

from mmsdt.registry import DATASETS
from .base import EventClsDataset, check_class_folders, list_files, require_dir


@DATASETS.register_module()
class NMNIST(EventClsDataset):
    """N-MNIST: 10 digit classes, 34x34 ATIS sensor, ``Train/<d>/*.bin`` and
    ``Test/<d>/*.bin`` (the release's own train / test split; the class names are the digit
    folders ``'0'`` .. ``'9'``).

    Args:
        data_root (str): the folder holding ``Train`` and ``Test``.
        split (str): ``'train'`` or ``'test'``.
        **kwargs: see :class:`~mmsdt.datasets.events.base.EventClsDataset`.
    """

    METAINFO = dict(classes=tuple(str(d) for d in range(10)), sensor_size=(34, 34))
    FOLDERS = dict(train='Train', test='Test')

    def split_location(self) -> str:
        """The split's folder (``Train`` or ``Test``)."""
        return osp.join(self.data_root, self.FOLDERS[self.split])

    def list_samples(self) -> List[Dict]:
        """Data infos of the split: every ``.bin`` file of every digit folder."""
        root = require_dir(self.split_location(), f'NMNIST {self.split} split')
        classes = self.metainfo['classes']
        check_class_folders(root, classes, 'NMNIST')
        samples = []
        for label, name in enumerate(classes):
            folder = osp.join(root, name)
            files = list_files(folder, ('.bin', ))
            if not files:
                raise ValueError(f'NMNIST: class folder {folder} holds no .bin recording')
            samples += [dict(events_path=osp.join(folder, f), gt_label=label) for f in files]
        return samples
