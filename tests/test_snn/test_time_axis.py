import threading

import pytest
import torch

from mmsdt.snn import current_time_steps, fold_time, mean_over_time, time_steps, unfold_time


def test_fold_is_t_major_and_unfold_inverts_it():
    B, T = 3, 4
    x = torch.randn(B, T, 2, 5, 6)
    folded = fold_time(x)
    assert folded.shape == (T * B, 2, 5, 6)
    for t in range(T):
        for b in range(B):
            assert torch.equal(folded[t * B + b], x[b, t])
    assert torch.equal(unfold_time(folded, T), x.transpose(0, 1))
    assert torch.equal(mean_over_time(folded, T), x.mean(1))


def test_unfold_names_the_shape_when_not_a_multiple():
    with pytest.raises(ValueError, match=r'T=4 .*\(6, 2\)'):
        unfold_time(torch.zeros(6, 2), 4)
    with pytest.raises(ValueError, match='needs'):
        fold_time(torch.zeros(5))


def test_context_nests_and_restores_after_an_exception():
    assert current_time_steps() is None
    with time_steps(8):
        assert current_time_steps() == 8
        with time_steps(None):  # a forward without time axis inside
            assert current_time_steps() is None
        with pytest.raises(RuntimeError):
            with time_steps(2):
                assert current_time_steps() == 2
                raise RuntimeError('boom')
        assert current_time_steps() == 8
    assert current_time_steps() is None


@pytest.mark.parametrize('bad', [0, -1, 1.5, True, '4'])
def test_context_rejects_bad_values(bad):
    with pytest.raises((ValueError, TypeError)):
        with time_steps(bad):
            pass


def test_context_is_per_thread():
    seen = []
    with time_steps(4):
        worker = threading.Thread(target=lambda: seen.append(current_time_steps()))
        worker.start()
        worker.join()
        assert current_time_steps() == 4
    assert seen == [None]


class _TinyNet(torch.nn.Module):
    """Frames (B, T, 1, 1, 2) -> neuron (integer counts) -> 1x1 conv to 2 channels."""

    def __init__(self, neuron):
        super().__init__()
        self.spike = neuron
        self.conv = torch.nn.Conv2d(1, 2, 1, bias=False)

    def forward(self, x):
        from mmsdt.snn import spike_linear
        steps = x.shape[1]
        with time_steps(steps):
            return mean_over_time(spike_linear(self.conv, self.spike(fold_time(x))), steps)


@pytest.mark.parametrize('mode, counts', [('stateful', 5), ('stateless', 3)])
def test_sops_with_time_counted_by_hand(mode, counts):
    from mmsdt.snn import SynapticOpCounter, build_spike_neuron, spike_driven
    # sample 0: pixel a gets 0.4 at both steps, pixel b 2.4 then 1.3; sample 1 is silent.
    # stateful IF (theta 1): a -> H 0.4 (0), 0.8 (1); b -> H 2.4 (2), 0.4 + 1.3 = 1.7 (2): 5
    # stateless: a -> 0, 0; b -> 2, 1: 3. Each count meets the 2 output channels' weights.
    x = torch.zeros(2, 2, 1, 1, 2, dtype=torch.float64)
    x[0, :, 0, 0, 0] = torch.tensor([0.4, 0.4])
    x[0, :, 0, 0, 1] = torch.tensor([2.4, 1.3])
    net = _TinyNet(build_spike_neuron(dict(mode=mode, norm=1))).double()
    for driven in (False, True):
        with torch.no_grad(), SynapticOpCounter(net) as counter:
            if driven:
                with spike_driven(net):
                    net(x)
            else:
                net(x)
        report = counter.report(num_images=2)
        layer = report.layers[0]
        assert layer.spike_input and layer.spike_sum == counts and layer.sops == 2 * counts
        assert layer.macs == 2 * 2 * 2 * 2  # T * B samples x 2 pixels x 2 output channels
        total = report.totals()['total']
        assert total['sops'] == counts  # per image: divided by B = 2, not T * B = 4
        assert report.time_steps == 2 and report.to_dict()['time_steps'] == 2
        assert 'summed over T = 2 time steps' in report.describe()
