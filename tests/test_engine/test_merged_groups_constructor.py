"""MergedGroupsOptimWrapperConstructor: same updates as mmengine's default, fewer groups."""
import copy

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from torch import nn

import mmsdt.engine  # noqa: F401  (registers the constructor)
from mmsdt.engine import merge_param_groups


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 1))
        self.decode_head = nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))

    def forward(self, x):
        return self.decode_head(self.backbone(x))


def _optim_cfg(constructor=None):
    cfg = dict(optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
               paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                                  custom_keys={'decode_head': dict(lr_mult=2.0)}))
    if constructor:
        cfg['constructor'] = constructor
    return cfg


def test_merged_groups_give_the_default_updates_with_one_group_per_setting():
    torch.manual_seed(0)
    net_default = _Net()
    net_merged = copy.deepcopy(net_default)
    default = build_optim_wrapper(net_default, _optim_cfg())
    merged = build_optim_wrapper(net_merged,
                                 _optim_cfg('mmsdt.MergedGroupsOptimWrapperConstructor'))
    # default: one group per parameter; merged: one per distinct (lr, weight decay)
    # (mmengine: custom_keys take precedence, so the head's norm/bias keep weight decay)
    assert len(default.optimizer.param_groups) == len(list(net_default.parameters())) == 10
    settings = [(g['lr'], g['weight_decay']) for g in merged.optimizer.param_groups]
    assert settings == [(1e-2, 0.05), (1e-2, 0.), (2e-2, 0.05)]
    per_param = {id(p): (g['lr'], g['weight_decay'])
                 for g in default.optimizer.param_groups for p in g['params']}
    for p_default, p_merged in zip(net_default.parameters(), net_merged.parameters()):
        group = next(m for m in merged.optimizer.param_groups
                     if any(p is p_merged for p in m['params']))
        assert (group['lr'], group['weight_decay']) == per_param[id(p_default)]
    for step in range(3):
        x = torch.randn(2, 3, 9, 9, generator=torch.Generator().manual_seed(step))
        for net, wrapper in ((net_default, default), (net_merged, merged)):
            wrapper.update_params(net(x).square().mean())
    for (name, p_default), p_merged in zip(net_default.named_parameters(),
                                           net_merged.parameters()):
        assert torch.allclose(p_default, p_merged, rtol=0, atol=1e-7), name
    # the parameters did move (the comparison above is not between two untouched models)
    assert not torch.allclose(net_default.backbone[0].weight,
                              _Net().backbone[0].weight)


def test_merge_param_groups_keeps_order_and_rejects_unhashable_options():
    a, b, c = (nn.Parameter(torch.zeros(1)) for _ in range(3))
    groups = merge_param_groups([dict(params=[a], lr=1.), dict(params=[b], lr=2.),
                                 dict(params=[c], lr=1.)])
    assert [g['lr'] for g in groups] == [1., 2.]
    assert [id(p) for p in groups[0]['params']] == [id(a), id(c)]
    with pytest.raises(TypeError, match='unhashable options'):
        merge_param_groups([dict(params=[a], betas=[0.9, 0.99])])
