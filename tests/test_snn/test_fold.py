"""mmsdt.snn.fold_bn: BN and 1/norm folding keep the function and the spike counts."""
import copy

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmsdt.models import ESpikeFormer
from mmsdt.snn import MultiSpike, SpikeConv2d, SpikeRecorder, fold_bn, spike_driven


def _flat(outs):
    return torch.cat([o.flatten() for o in outs])


@pytest.mark.parametrize('arch', ['2.7m', '10m'])
def test_folded_backbone_equals_unfolded_with_the_same_counts(arch, randomise_bn):
    torch.manual_seed(0)
    model = randomise_bn(ESpikeFormer(arch, out_indices=(0, 1, 2, 3, 4))).double().eval()
    x = torch.randn(2, 3, 64, 48, dtype=torch.float64)
    folded = copy.deepcopy(model)
    stats = fold_bn(folded, x)
    n_bn = sum(isinstance(m, _BatchNorm) for m in model.modules())
    n_neurons = sum(isinstance(m, MultiSpike) for m in model.modules())
    assert stats == dict(bn_folded=n_bn, bn_left=0, norms_folded=n_neurons)
    assert not any(isinstance(m, _BatchNorm) for m in folded.modules())
    assert all(m.norm == 1 for m in folded.modules() if isinstance(m, MultiSpike))
    y = torch.randn(1, 3, 80, 96, dtype=torch.float64)  # another input than the example
    with torch.no_grad(), SpikeRecorder(model) as r0, SpikeRecorder(folded) as r1:
        ref, out = _flat(model(y)), _flat(folded(y))
    # float64: folding changes only the rounding of the affine arithmetic (~1e-16 relative)
    assert (out - ref).abs().max() <= 1e-12 * ref.abs().max()
    assert [s.spikes for s in r0.stats.values()] == [s.spikes for s in r1.stats.values()]
    assert [s.nonzero for s in r0.stats.values()] == [s.nonzero for s in r1.stats.values()]
    with torch.no_grad(), spike_driven(folded):  # still runs spike-driven, same result
        driven = _flat(folded(y))
    assert (driven - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_a_bn_not_fed_by_a_conv_stays(randomise_bn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = SpikeConv2d(3, 4, 3, padding=1, spike_cfg=dict(norm=4))
            self.bn = nn.BatchNorm2d(4)
            self.bn_after_relu = nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn_after_relu(torch.relu(self.bn(self.conv(x))))

    net = randomise_bn(Net()).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64) * 3
    with torch.no_grad():
        ref = net.eval()(x)
    stats = fold_bn(net, x)
    assert stats == dict(bn_folded=1, bn_left=1, norms_folded=1)
    assert isinstance(net.bn, nn.Identity) and isinstance(net.bn_after_relu, nn.BatchNorm2d)
    assert net.conv.spike.norm == 1
    with torch.no_grad():
        assert torch.allclose(net(x), ref, rtol=1e-12, atol=1e-12)
