"""EncoderDecoder whose decode head must declare the real feature strides."""
from mmseg.models.segmentors import EncoderDecoder

from mmsdt.registry import MODELS
from ..utils import measured_strides


@MODELS.register_module()
class SpikeEncoderDecoder(EncoderDecoder):
    """mmseg's :class:`EncoderDecoder` that fails loudly, when built, if the decode head's
    ``feature_strides`` differ from the strides of the levels it reads (the upstream configs
    declared 4, 8, 16, 32 for levels of stride 2, 4, 8, 16)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        real = measured_strides(self.backbone, self.neck if self.with_neck else None)
        head = self.decode_head
        declared = getattr(head, 'feature_strides', None)
        if declared is not None:
            index = head.in_index if isinstance(head.in_index, (list, tuple)) else [head.in_index]
            expected = [real[i] for i in index]
            if list(declared) != expected:
                raise ValueError(f'stride mismatch: decode_head.feature_strides = '
                                 f'{list(declared)}, but its input levels {list(index)} have '
                                 f'strides {expected} (all levels: {real})')
        self.feature_strides = tuple(real)
