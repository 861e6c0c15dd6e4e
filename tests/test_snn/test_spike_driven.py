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
    # float64 (docs/design.md): only the summation order differs, ~1e-16 relative
    torch.manual_seed(0)
    layer = layer.double()
    in_ch = layer.in_features if isinstance(layer, nn.Linear) else layer.in_channels
    shape = {nn.Linear: (2, 5, in_ch), nn.Conv1d: (2, in_ch, 9)}.get(type(layer),
                                                                      (2, in_ch, 6, 6))
    spike = MultiSpike(norm=3)
    u = torch.randn(shape, dtype=torch.float64) * 3
    with torch.no_grad():
        ref = layer(spike(u))
        with spike_driven(spike):
            train = spike(u)
            assert isinstance(train, SpikeTrain)
            out = spike_linear(layer, train)
    assert (out - ref).abs().max() <= 1e-12 * ref.abs().max()


def test_spike_matmul_both_and_one_spike_operand():
    torch.manual_seed(0)
    a_spike, b_spike = MultiSpike(), MultiSpike(norm=1)
    a_u = torch.randn(2, 5, 6, dtype=torch.float64) * 3
    b_u = torch.randn(2, 6, 4, dtype=torch.float64) * 3
    dense = torch.randn(2, 6, 4, dtype=torch.float64)
    ref_both = a_spike(a_u) @ b_spike(b_u)
    ref_one = a_spike(a_u) @ dense
    with spike_driven(a_spike), spike_driven(b_spike):
        a, b = a_spike(a_u), b_spike(b_u)
        both, one = spike_matmul(a, b), spike_matmul(a, dense)
    assert (both - ref_both).abs().max() <= 1e-12 * ref_both.abs().max()
    assert (one - ref_one).abs().max() <= 1e-12 * ref_one.abs().max()


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
    model = ESpikeFormer('2.7m', out_indices=(0, 1, 2, 3, 4)).double()
    model.train()
    with torch.no_grad():  # realistic BN statistics
        model(torch.randn(4, 3, 64, 64, dtype=torch.float64))
    model.eval()
    report = verify_spike_driven(model, torch.randn(1, 3, 64, 64, dtype=torch.float64))
    # float64: potentials and outputs differ by summation order only (~1e-16 relative)
    assert report.ok(1e-12), report
    neurons = {n for n, m in model.named_modules() if isinstance(m, MultiSpike)}
    assert set(report.elements) == neurons
    assert sum(report.elements.values()) > 100_000
    # what the layers consumed: every spike operand arrived as binary maps
    assert report.spike_inputs >= len(neurons) and report.binary_inputs == report.spike_inputs
    assert report.maps == 4 * report.spike_inputs == report.binary_maps  # D = 4 maps each


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


class Densified(nn.Module):
    """In spike-driven mode turns the spikes back into a plain tensor (counts / norm) before
    a linear layer and a matmul consume them: same values, but the consumers multiply."""

    def __init__(self):
        super().__init__()
        self.spike = MultiSpike()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        s = self.spike(x)
        if isinstance(s, SpikeTrain):
            s = s.counts() / s.norm
        return spike_matmul(spike_linear(self.fc, s).t(), s)


def test_a_plain_non_binary_input_to_a_spike_fed_layer_fails_and_is_named():
    from mmsdt.snn import verify_spike_driven
    torch.manual_seed(0)
    report = verify_spike_driven(Densified().double(), torch.randn(8, 4, dtype=torch.float64) * 3)
    # the values agree: only the consumed-input check can see the problem
    assert report.output_deviation <= 1e-12 and report.untied_flips == 0
    assert report.non_binary_inputs == {'fc': 1, 'matmul0': 1}
    assert report.spike_inputs == 2 and report.binary_inputs == 0
    assert not report.ok()


def test_verification_fails_when_no_layer_consumes_spikes():
    from mmsdt.snn import verify_spike_driven
    report = verify_spike_driven(nn.Sequential(nn.Linear(4, 4), MultiSpike()).eval(),
                                 torch.randn(2, 4))
    assert report.spike_inputs == 0 and not report.ok()
