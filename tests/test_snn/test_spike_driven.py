import pytest
import torch
from torch import nn

from mmsdt.snn import MultiSpike, SpikeTrain, spike_driven, spike_linear, spike_matmul


def test_spike_train_expansion_sums_to_counts():
    counts = torch.tensor([[0., 1., 2.], [3., 4., 4.]])
    train = SpikeTrain.from_counts(counts, max_value=4, norm=4)
    assert train.maps.shape == (4, 2, 3)
    assert set(train.maps.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(train.counts(), counts)


@pytest.mark.parametrize('layer', [
    nn.Conv2d(3, 5, 3, padding=1),
    nn.Conv2d(6, 6, 3, padding=1, groups=6, bias=False),
    nn.Conv1d(3, 4, 1),
    nn.Linear(3, 7),
    nn.ConvTranspose2d(3, 2, 2, stride=2),
])
def test_spike_linear_equals_integer_mode(layer):
    torch.manual_seed(0)
    in_ch = layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels
    shape = {nn.Linear: (2, 5, in_ch), nn.Conv1d: (2, in_ch, 9)}.get(type(layer),
                                                                      (2, in_ch, 6, 6))
    spike = MultiSpike(norm=3)
    u = torch.randn(shape) * 3
    ref = layer(spike(u))
    with spike_driven(spike):
        train = spike(u)
        assert isinstance(train, SpikeTrain)
        out = spike_linear(layer, train)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_spike_matmul_both_and_one_spike_operand():
    torch.manual_seed(0)
    a_spike, b_spike = MultiSpike(), MultiSpike(norm=1)
    a_u, b_u = torch.randn(2, 5, 6) * 3, torch.randn(2, 6, 4) * 3
    dense = torch.randn(2, 6, 4)
    ref_both = a_spike(a_u) @ b_spike(b_u)
    ref_one = a_spike(a_u) @ dense
    with spike_driven(a_spike), spike_driven(b_spike):
        a, b = a_spike(a_u), b_spike(b_u)
        torch.testing.assert_close(spike_matmul(a, b), ref_both)
        torch.testing.assert_close(spike_matmul(a, dense), ref_one)


def test_non_binary_map_is_rejected():
    bad = SpikeTrain(torch.full((4, 2, 3), 2.0), norm=4)
    with pytest.raises(RuntimeError, match='non-binary'):
        spike_linear(nn.Linear(3, 2), bad)


def test_unsupported_consumer_is_rejected():
    train = SpikeTrain.from_counts(torch.ones(2, 3), 4, 4)
    with pytest.raises(TypeError, match='LayerNorm'):
        spike_linear(nn.LayerNorm(3), train)


def test_context_manager_restores_mode_and_requires_neurons():
    model = nn.Sequential(MultiSpike(), nn.Linear(3, 3))
    with pytest.raises(ZeroDivisionError):
        with spike_driven(model):
            assert model[0].spike_driven
            raise ZeroDivisionError
    assert not model[0].spike_driven
    with pytest.raises(ValueError, match='no MultiSpike'):
        with spike_driven(nn.Linear(2, 2)):
            pass


def test_lockstep_verification_on_the_backbone():
    from mmsdt.models import ESpikeFormer
    from mmsdt.snn import verify_spike_driven
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m', out_indices=(0, 1, 2, 3, 4))
    model.train()
    with torch.no_grad():  # realistic BN statistics
        model(torch.randn(4, 3, 64, 64))
    model.eval()
    report = verify_spike_driven(model, torch.randn(1, 3, 64, 64))
    assert report.ok(1e-4), report
    neurons = {n for n, m in model.named_modules() if isinstance(m, MultiSpike)}
    assert set(report.elements) == neurons
    assert sum(report.elements.values()) > 100_000


def test_lockstep_verification_detects_a_wrong_consumer():
    from mmsdt.snn import verify_spike_driven

    class Broken(nn.Module):
        """Forgets the 1/norm fold in spike-driven mode."""

        def __init__(self):
            super().__init__()
            self.spike, self.out = MultiSpike(), MultiSpike()
            self.fc, self.fc2 = nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            s = self.spike(x)
            if isinstance(s, SpikeTrain):
                s = SpikeTrain(s.maps, 1.0)
            return spike_linear(self.fc2, self.out(spike_linear(self.fc, s)))

    torch.manual_seed(0)
    report = verify_spike_driven(Broken(), torch.randn(8, 4) * 3)
    assert not report.ok()
