"""Event-camera data: the in-memory layout, file readers and writers.

Events are numpy structured arrays of :data:`EVENT_DTYPE` (x, y int16; t int64 µs; p bool,
True = ON) — tonic's layout, so tonic users pass their arrays through :func:`as_events`.
:func:`read_events` reads the formats of the public releases (AEDAT 2.0 / 3.1 / 4.0, the ATIS
``.bin`` of N-MNIST and N-Caltech101, ``.npy``, ``.npz``, Prophesee ``.dat`` and EVT 2.0 /
3.0 ``.raw``); :func:`write_events` writes ``.npz``, ATIS ``.bin``, AEDAT 4.0, ``.dat`` and
``.raw``. :func:`open_windowed` reads time windows of long Prophesee recordings;
:func:`read_prophesee_boxes` reads the releases' ``*_bbox.npy`` box files. Faults are
:class:`EventFileError` naming the file.
Pipeline steps: :class:`EventsToFrames` bins events into frames ``(T, P, H, W)`` (tonic's
``ToFrame`` counts), the frame augmentations, :class:`EventDrop`, the denoise filters and
:class:`PackEventInputs`. :class:`DVSEmulator` turns a greyscale video into events (the
toy event set's source).
"""
from .augment import EventCenterCrop, EventRandomCrop, EventRandomFlip, EventResize
from .denoise import EventDenoise, EventRefractory
from .drop import EventDrop
from .emulator import DVSEmulator, emulate_events
from .frames import EventFramesError, EventsToFrames
from .io import detect_format, read_events, write_events
from .layout import EVENT_DTYPE, EventFileError, as_events, check_in_sensor
from .packing import PackEventInputs
from .prophesee import (PropheseeWindowReader, open_windowed, read_events_window, read_evt2,
                        read_evt3, read_prophesee_dat, write_evt2, write_evt3,
                        write_prophesee_dat)
from .prophesee_boxes import (BBOX_DTYPE, check_prophesee_boxes, read_prophesee_boxes,
                              write_prophesee_boxes)

__all__ = [
    'EVENT_DTYPE', 'EventFileError', 'as_events', 'check_in_sensor', 'detect_format',
    'read_events', 'write_events', 'EventsToFrames', 'EventFramesError', 'EventRandomCrop',
    'EventCenterCrop', 'EventResize', 'EventRandomFlip', 'EventDrop', 'EventDenoise',
    'EventRefractory', 'PackEventInputs', 'DVSEmulator', 'emulate_events',
    'PropheseeWindowReader', 'open_windowed', 'read_events_window', 'read_evt2', 'read_evt3',
    'read_prophesee_dat', 'write_evt2', 'write_evt3', 'write_prophesee_dat', 'BBOX_DTYPE',
    'check_prophesee_boxes', 'read_prophesee_boxes', 'write_prophesee_boxes'
]

# Loading steps (LoadEvents cuts labelled intervals; LoadHARDVSFrames reads HARDVS clips) and
# the release data sets, mmpretrain BaseDatasets (mmpretrain: the `cls` extra).
from .loading import LoadEvents, LoadHARDVSFrames  # noqa: E402

__all__ += ['LoadEvents', 'LoadHARDVSFrames']
from importlib.util import find_spec  # noqa: E402

if find_spec('mmpretrain') is not None:
    from .cifar10_dvs import CIFAR10DVS  # noqa: E402
    from .dvs_gesture import DVS128Gesture  # noqa: E402
    from .hardvs import HARDVS  # noqa: E402
    from .nmnist import NMNIST  # noqa: E402
    __all__ += ['CIFAR10DVS', 'DVS128Gesture', 'HARDVS', 'NMNIST']

# Detection on event recordings: windows before labelled timestamps, packed for mmdet.
from .det_packing import PackEventDetInputs  # noqa: E402
from .event_window import LoadEventWindow  # noqa: E402

__all__ += ['LoadEventWindow', 'PackEventDetInputs']
if find_spec('mmdet') is not None:  # the Prophesee detection releases (mmdet: the det extra)
    from .prophesee_det import PropheseeDetDataset  # noqa: E402
    __all__ += ['PropheseeDetDataset']
