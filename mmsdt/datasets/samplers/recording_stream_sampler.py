"""Streaming order over recordings: :class:`RecordingStreamSampler`.

A streaming detector carries its neurons' state from one window of a recording to the next and
resets it where a recording starts (the data sample's ``first_in_recording``). That needs
batches in which row ``b`` of batch ``k + 1`` is the next window, in time, of the recording
row ``b`` of batch ``k`` showed: ``B`` parallel streams.
"""
from typing import Dict, Iterator, List, Optional

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmsdt.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class RecordingStreamSampler(Sampler):
    """Yield whole recordings, each in time order, as ``num_streams`` parallel streams.

    The data set's samples are grouped by their data info's ``recording`` and sorted by
    ``timestamp`` within it; recordings keep the data set's order, or a random order drawn
    from ``seed`` and the epoch with ``shuffle=True`` (the same on every rank). Recordings are
    dealt to ``world_size * num_streams`` streams, whole, each to the stream with the fewest
    samples so far; rank ``r`` takes streams ``r * num_streams ...`` (all of a recording's
    samples go to one rank). The indices come out step-major: ``stream 0, ..., stream S-1`` of
    step 0, then of step 1, ..., so with the dataloader's ``batch_size == num_streams`` row
    ``b`` of every batch continues stream ``b``. A stream passes to its next recording at that
    recording's first sample, where ``first_in_recording`` is True and the model resets the
    row's state.

    With ``round_up=True`` (default) every stream is padded to the longest stream of all ranks
    by cycling through its own recordings again from its first sample (flags stay right), so
    all rows and ranks take the same number of steps; an epoch then visits some samples twice,
    as mmengine's ``DefaultSampler`` does. With one stream on one process nothing is padded:
    every sample comes exactly once, which exact evaluation needs (``num_streams=1``,
    ``batch_size=1``). ``round_up=False`` yields each rank's single stream unpadded and needs
    ``num_streams=1``. mmengine's evaluation gathers results from several ranks assuming
    ``DefaultSampler``'s split, so evaluate with this sampler on one process.

    Args:
        dataset: a data set whose data infos have ``recording`` and ``timestamp``
            (:class:`~mmsdt.datasets.events.prophesee_det.PropheseeDetDataset`).
        num_streams (int): parallel streams per rank; must equal the dataloader's
            ``batch_size``.
        shuffle (bool): shuffle the recordings' order every epoch.
        seed (int, optional): the shuffle seed (synchronised across ranks when ``None``).
        round_up (bool): pad the streams to equal lengths (see above).
    """

    def __init__(self, dataset, num_streams: int = 1, shuffle: bool = False,
                 seed: Optional[int] = None, round_up: bool = True) -> None:
        if not (isinstance(num_streams, (int, np.integer)) and num_streams > 0):
            raise ValueError(f'RecordingStreamSampler: num_streams must be a positive integer, '
                             f'got {num_streams!r}')
        if not round_up and num_streams != 1:
            raise ValueError('RecordingStreamSampler: round_up=False needs num_streams=1 (rows '
                             'of a batch must stay aligned)')
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.num_streams = int(num_streams)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else seed
        self.round_up = round_up
        self.epoch = 0
        self.recordings = self._group(dataset)
        slots = self.world_size * self.num_streams
        if len(self.recordings) < slots:
            raise ValueError(f'RecordingStreamSampler: {len(self.recordings)} recordings for '
                             f'{self.world_size} rank(s) x {self.num_streams} stream(s); every '
                             f'stream needs at least one recording')

    @staticmethod
    def _group(dataset) -> List[List[int]]:
        """Sample indices per recording (data set order of first appearance), by time."""
        groups: Dict[str, List[tuple]] = {}
        for index in range(len(dataset)):
            info = dataset.get_data_info(index)
            for key in ('recording', 'timestamp'):
                if key not in info:
                    raise KeyError(f'RecordingStreamSampler: data info {index} has no "{key}"')
            groups.setdefault(info['recording'], []).append(
                (int(info['timestamp']), index, info.get('first_in_recording')))
        recordings = []
        for name, items in groups.items():
            items.sort(key=lambda item: (item[0], item[1]))
            flags = [flag for _, _, flag in items]
            if flags[0] is False or any(flag for flag in flags[1:]):
                raise ValueError(f'RecordingStreamSampler: recording {name}: first_in_recording '
                                 f'is not True exactly at its earliest sample (flags in time '
                                 f'order {flags[:8]})')
            recordings.append([index for _, index, _ in items])
        return recordings

    def streams(self) -> List[List[int]]:
        """The sample indices of every stream of every rank (``world_size * num_streams``
        lists, unpadded), for this epoch."""
        order = np.arange(len(self.recordings))
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(order)
        streams: List[List[int]] = [[] for _ in range(self.world_size * self.num_streams)]
        for r in order:
            target = min(range(len(streams)), key=lambda s: (len(streams[s]), s))
            streams[target].extend(self.recordings[r])
        return streams

    def _steps(self, streams: List[List[int]]) -> int:
        if self.round_up:
            return max(len(s) for s in streams)
        return len(streams[self.rank])

    def __iter__(self) -> Iterator[int]:
        streams = self.streams()
        steps = self._steps(streams)
        mine = streams[self.rank * self.num_streams:(self.rank + 1) * self.num_streams]
        for step in range(steps):
            for stream in mine:
                yield stream[step % len(stream)]

    def __len__(self) -> int:
        return self._steps(self.streams()) * self.num_streams

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch (the shuffle draws its order from ``seed + epoch``)."""
        self.epoch = epoch
