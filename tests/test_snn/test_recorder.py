import pytest
import torch
from torch import nn

from mmsdt.snn import MultiSpike, SpikeRecorder, spike_driven


def _model():
    return nn.Sequential(MultiSpike(), nn.Identity())


def test_counts_in_integer_and_spike_mode_agree():
    u = torch.tensor([[-1.0, 0.6, 1.6, 2.6, 5.0, 3.0]])  # counts 0,1,2,3,4,3 -> 13
    model = _model()
    with SpikeRecorder(model) as rec:
        model(u)
        st = rec.stats['0']
        assert (st.spikes, st.elements, st.nonzero, st.calls) == (13, 6, 5, 1)
        assert st.firing_rate == pytest.approx(13 / 6 / 4)
        assert st.nonzero_rate == pytest.approx(5 / 6)
        rec.reset()
        with spike_driven(model):
            model(u)
        assert rec.stats['0'].spikes == 13


def test_close_removes_hooks():
    model = _model()
    rec = SpikeRecorder(model)
    rec.close()
    model(torch.ones(1, 3))
    assert rec.stats['0'].calls == 0
    assert not model[0]._forward_hooks


def test_grouping_and_errors():
    model = nn.Sequential(nn.Sequential(MultiSpike(norm=1), MultiSpike(norm=1)), MultiSpike(norm=1))
    with SpikeRecorder(model) as rec:
        model(torch.full((2, 2), 2.0))
        groups = rec.grouped(1)
    assert list(groups) == ['0', '1']
    # docs/reference_numbers.md: recorder-groups
    assert groups['0'].spikes == 16 and groups['1'].spikes == 8
    with pytest.raises(ValueError, match='no MultiSpike'):
        SpikeRecorder(nn.Linear(2, 2))
