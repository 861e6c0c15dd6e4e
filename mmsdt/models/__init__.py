"""mmsdt models; importing this package registers them in ``mmsdt.registry.MODELS``.

The backbone and the spiking layers need only torch, mmengine and timm. The detection
components import mmdet, the segmentation components mmseg, the classification heads, the
distillation classifier, the spike-masked autoencoder (``mmsdt.models.selfsup``) and the
event data preprocessor (with its batch augmentation ``mmsdt.EventMix``) mmpretrain; each
group is imported only when its package is installed, otherwise its names are registered as
placeholders that raise an ImportError naming the package (see
:mod:`mmsdt.models.task_packages`).
"""
from .backbones import ESpikeFormer, ESpikeFormerLarge
from .spike_layers import SpikeConv2d, SpikeConvTranspose2d, SpikeLinear
from .task_packages import TaskPackage, is_installed, register_placeholders

DET_PACKAGE = TaskPackage(
    import_name='mmdet', requirement='mmdet==3.3.0', extra='det',
    components=('SpikeRPNHead', 'SpikeRetinaHead', 'SpikeConvFCBBoxHead',
                'SpikeShared2FCBBoxHead', 'SpikeShared4Conv1FCBBoxHead', 'SpikeFCNMaskHead',
                'CappedMaskRoIHead', 'SparseSingleRoIExtractor', 'StrideCheckedMaskRCNN',
                'StrideCheckedCascadeRCNN', 'StrideCheckedRetinaNet', 'StreamingRetinaNet',
                'EventDetDataPreprocessor'))
SEG_PACKAGE = TaskPackage(
    import_name='mmseg', requirement='mmsegmentation==1.2.2', extra='seg',
    components=('SpikeFPNHead', 'StrideCheckedEncoderDecoder'))
CLS_PACKAGE = TaskPackage(
    import_name='mmpretrain', requirement='mmpretrain==1.2.0', extra='cls',
    components=('SpikeLinearClsHead', 'SpikeDistillClsHead', 'EventDataPreprocessor',
                'DistillImageClassifier', 'SpikeMAE', 'SpikeMAEDecoder', 'SpikeMAEPretrainHead'))

__all__ = ['ESpikeFormer', 'ESpikeFormerLarge', 'SpikeConv2d', 'SpikeLinear',
           'SpikeConvTranspose2d']

# the names imported below are exported through __all__ += <package>.components
if is_installed(DET_PACKAGE.import_name):
    from .data_preprocessors import EventDetDataPreprocessor  # noqa: F401
    from .dense_heads import SpikeRetinaHead, SpikeRPNHead  # noqa: F401
    from .detectors import (StrideCheckedCascadeRCNN, StrideCheckedMaskRCNN,  # noqa: F401
                            StrideCheckedRetinaNet, StreamingRetinaNet)
    from .roi_heads import (CappedMaskRoIHead, SparseSingleRoIExtractor,  # noqa: F401
                            SpikeConvFCBBoxHead, SpikeFCNMaskHead, SpikeShared2FCBBoxHead,
                            SpikeShared4Conv1FCBBoxHead)
    __all__ += DET_PACKAGE.components
else:
    register_placeholders(DET_PACKAGE)

if is_installed(SEG_PACKAGE.import_name):
    from .decode_heads import SpikeFPNHead  # noqa: F401
    from .segmentors import StrideCheckedEncoderDecoder  # noqa: F401
    __all__ += SEG_PACKAGE.components
else:
    register_placeholders(SEG_PACKAGE)

if is_installed(CLS_PACKAGE.import_name):
    from .classifiers import DistillImageClassifier  # noqa: F401
    from .data_preprocessors import EventDataPreprocessor  # noqa: F401
    from .heads import SpikeDistillClsHead, SpikeLinearClsHead  # noqa: F401
    from .selfsup import SpikeMAE, SpikeMAEDecoder, SpikeMAEPretrainHead  # noqa: F401
    __all__ += CLS_PACKAGE.components
else:
    register_placeholders(CLS_PACKAGE)
