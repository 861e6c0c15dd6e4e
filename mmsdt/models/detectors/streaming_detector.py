"""Streaming event-camera detection: stock mmdet detectors whose stateful backbone neurons
carry their membrane from one window of a recording to the next."""
from typing import Sequence

from mmdet.models.detectors import RetinaNet

from mmsdt.registry import MODELS
from mmsdt.snn import MultiStepIntIF
from mmsdt.snn.stream_state import StreamState, carrying
from ..stride_check import StrideCheckMixin
from .stride_checked_detectors import detector_declared_strides


def first_in_recording_flags(data_samples: Sequence) -> list:
    """``metainfo['first_in_recording']`` of every sample (a ValueError naming the sample's
    recording and timestamp when missing)."""
    if not data_samples:
        raise ValueError('streaming detector: no data samples, so no first_in_recording flags '
                         'to reset the carried membranes with')
    flags = []
    for sample in data_samples:
        meta = sample.metainfo
        if 'first_in_recording' not in meta:
            raise ValueError(
                f"streaming detector: data sample of recording {meta.get('recording')!r} at "
                f"timestamp {meta.get('timestamp')!r} has no metainfo 'first_in_recording' "
                f"(mmsdt.PackEventDetInputs puts it there)")
        flags.append(bool(meta['first_in_recording']))
    return flags


class StreamingStateMixin:
    """Mixin for a stock mmdet single-stage detector over a stateful spiking backbone: the
    membranes of its :class:`~mmsdt.snn.MultiStepIntIF` neurons carry over from one forward
    call to the next, per batch row, and restart from zero where the row's sample has
    ``first_in_recording`` True (:mod:`mmsdt.snn.stream_state`).

    Batch row ``b`` of consecutive calls must hold consecutive windows of one recording (in
    time order): the data come from :class:`mmsdt.RecordingStreamSampler`; with one stream
    (batch size 1) that is every recording in turn. Gradients stop at window boundaries
    (the carried membranes are detached). Only neurons that run with a time axis carry
    (the backbone; the neck and heads, after the mean over T, stay stateless). The store is
    plain Python state on the detector: state dicts, EMA copies and checkpoints never see it.

    Put it first among the bases. Raises at build time unless the backbone has stateful
    neurons, or when it recomputes blocks (``with_cp``: a neuron would run twice per call).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(isinstance(m, MultiStepIntIF) for m in self.backbone.modules()):
            raise ValueError(f"{type(self).__name__}: the backbone has no stateful neuron "
                             f"to carry (set backbone.neuron_mode='stateful')")
        if getattr(self.backbone, 'with_cp', False):
            raise ValueError(f'{type(self).__name__}: backbone.with_cp recomputes each block '
                             f'in backward, running its neurons twice per call; turn it off')
        self.stream_state = StreamState()

    def reset_stream(self) -> None:
        """Forget every carried membrane (the next call starts from zero)."""
        self.stream_state.clear()

    def _carry(self, data_samples):
        self.stream_state.begin(first_in_recording_flags(data_samples))
        return carrying(self.stream_state)

    def loss(self, batch_inputs, batch_data_samples):
        """mmdet's ``loss`` with the membranes carried (see the class doc)."""
        with self._carry(batch_data_samples):
            return super().loss(batch_inputs, batch_data_samples)

    def predict(self, batch_inputs, batch_data_samples, rescale: bool = True):
        """mmdet's ``predict`` with the membranes carried (see the class doc)."""
        with self._carry(batch_data_samples):
            return super().predict(batch_inputs, batch_data_samples, rescale=rescale)

    def _forward(self, batch_inputs, batch_data_samples=None):
        """mmdet's ``_forward`` (tensor mode); carries the membranes when data samples are
        given, otherwise runs without carry."""
        if not batch_data_samples:
            return super()._forward(batch_inputs, batch_data_samples)
        with self._carry(batch_data_samples):
            return super()._forward(batch_inputs, batch_data_samples)


@MODELS.register_module()
class StreamingRetinaNet(StreamingStateMixin, StrideCheckMixin, RetinaNet):
    """mmdet's :class:`RetinaNet` streaming over the windows of event recordings
    (:class:`StreamingStateMixin`), with the build-time stride check of
    :class:`mmsdt.StrideCheckedRetinaNet`.

    Args:
        *args, **kwargs: the arguments of mmdet's RetinaNet.
    """
    declared_strides = detector_declared_strides

