"""An optimizer wrapper constructor that keeps one parameter group per distinct setting."""
from typing import Dict, List, Optional

from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from mmsdt.registry import OPTIM_WRAPPER_CONSTRUCTORS


def merge_param_groups(groups: List[Dict]) -> List[Dict]:
    """Merge parameter groups whose options (everything but ``params``) are equal.

    Groups keep the order in which their options first appear and parameters keep their
    order, so the optimizer updates every parameter exactly as with the unmerged groups.

    Args:
        groups: parameter groups, each a dict with ``params`` (a list of tensors) and options
            such as ``lr`` or ``weight_decay``.

    Returns:
        list[dict]: one group per distinct set of options.
    """
    merged: Dict[tuple, Dict] = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k != 'params'}
        try:
            key = tuple(sorted(options.items()))
            hash(key)
        except TypeError as err:
            raise TypeError(f'cannot merge parameter groups with unhashable options '
                            f'{sorted(options)}: {err}') from err
        if key not in merged:
            merged[key] = dict(options, params=[])
        merged[key]['params'].extend(group['params'])
    return list(merged.values())


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's default constructor, with one parameter group per distinct setting.

    With a ``paramwise_cfg`` (``norm_decay_mult``, ``custom_keys`` ...) the default constructor
    gives every parameter its own group, so an optimizer steps hundreds of groups one by one.
    This constructor applies the same per-parameter rules, then merges groups with identical
    options (see :func:`merge_param_groups`): the updates are unchanged, the step is cheaper
    (measured on the toy configs, 2 CPU cores: AdamW step 40 ms -> 20 ms for the segmentation
    model with ``foreach=True``). Use it with ``optim_wrapper=dict(constructor=
    'mmsdt.MergedGroupsOptimWrapperConstructor', ...)``. Optimizer checkpoints written with the
    default constructor have a different group layout and cannot be resumed with this one.
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[int] = None) -> None:
        if prefix:  # the default constructor recursing into a submodule
            super().add_params(params, module, prefix, is_dcn_module)
            return
        groups: List[dict] = []
        super().add_params(groups, module, prefix, is_dcn_module)
        params.extend(merge_param_groups(groups))
