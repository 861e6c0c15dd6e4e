"""mmsdt registries.

Children of mmengine's root registries with scope ``mmsdt``. After
``custom_imports=dict(imports=['mmsdt.models'])`` a config of any OpenMMLab package (mmdet,
mmseg, mmpretrain) can name ``type='mmsdt.ESpikeFormer'`` (or
``runner_type='mmsdt.SafeRunner'``): the parent registry finds this child by its scope. No
OpenMMLab file is patched.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmsdt', locations=['mmsdt.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmsdt', locations=['mmsdt.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope='mmsdt',
                                      locations=['mmsdt.engine'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmsdt',
                      locations=['mmsdt.datasets'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmsdt',
                    locations=['mmsdt.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mmsdt',
                         locations=['mmsdt.datasets'])
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, scope='mmsdt', locations=['mmsdt.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmsdt',
                   locations=['mmsdt.evaluation'])

__all__ = ['MODELS', 'HOOKS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'TRANSFORMS', 'RUNNERS', 'DATASETS',
           'DATA_SAMPLERS', 'METRICS']
