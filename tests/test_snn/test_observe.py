"""mmsdt.snn.observe: the observer protocol, its thread-local registration, the spike registry
and the hook set."""
import threading
import weakref

import pytest
import torch
from torch import nn

from mmsdt.snn import (HookSet, MultiSpike, SpikeObserver, SpikeTrain, active_observers,
                       emitted_counts, observing, spike_driven, spike_layout, spike_linear,
                       spike_matmul, spike_source)


class Log(SpikeObserver):
    """Records every event it hears."""

    def __init__(self, model=None):
        super().__init__()
        self.events = []
        if model is not None:
            self.watch_neurons(model)

    def on_spike(self, neuron, output):
        self.events.append(('spike', neuron, type(output).__name__))

    def on_linear(self, layer, x, will_call_module):
        self.events.append(('linear', layer, spike_source(x)))

    def on_matmul(self, a, b):
        self.events.append(('matmul', spike_source(a), spike_source(b)))


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.spike = MultiSpike(norm=2)
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        s = self.spike(x)
        y = spike_linear(self.fc, s)
        return spike_matmul(spike_layout(s, lambda t: t.transpose(0, 1)), y)


def test_events_and_spike_sources_in_both_modes():
    net = Net()
    x = torch.tensor([[0.2, 1.0, 3.0], [2.0, 0.0, 0.6]])
    with torch.no_grad(), Log(net) as log:
        net(x)
        with spike_driven(net):
            net(x)
    integer, driven = log.events[:3], log.events[3:]
    assert integer[0] == ('spike', net.spike, 'Tensor')
    # the consumer's input is the neuron's output, with its norm
    assert integer[1][:2] == ('linear', net.fc) and integer[1][2].neuron is net.spike
    assert integer[1][2].norm == 2.0
    # the transposed spikes (spike_layout) keep their source; the fc output is analog
    assert integer[2][1].neuron is net.spike and integer[2][2] is None
    assert driven[0] == ('spike', net.spike, 'SpikeTrain')
    assert driven[1][2].neuron is net.spike and driven[2][1].neuron is net.spike
    assert active_observers() == ()


def test_views_are_spikes_analog_tensors_are_not_and_nothing_is_kept_alive():
    neuron = MultiSpike()
    with Log(nn.Sequential(neuron)) as log:
        s = neuron(torch.randn(2, 6) * 3)
        assert spike_source(s.reshape(3, 4)).neuron is neuron  # a view: found through its base
        assert spike_source(s * 1.0) is None  # arithmetic makes an analog tensor
        assert spike_source(torch.randn(2, 6)) is None
        ref = weakref.ref(s)
        del s
        assert ref() is None  # the registry holds weak references only
    assert len(log.events) == 1
    with torch.no_grad():
        s = neuron(torch.randn(2, 6))
    assert spike_source(s) is None  # no observer: no registry
    train = SpikeTrain.from_counts(torch.ones(2), 4, 4)
    assert spike_source(train).norm == 4 and spike_source(train).neuron is None


def test_emitted_counts_of_both_modes():
    neuron = MultiSpike(norm=3)
    u = torch.tensor([-1.0, 0.6, 2.4, 9.0])
    counts = torch.tensor([0.0, 1.0, 2.0, 4.0])
    assert torch.equal(emitted_counts(neuron, neuron(u)), counts)
    with spike_driven(neuron):
        assert torch.equal(emitted_counts(neuron, neuron(u)), counts)


def test_registration_is_per_thread():
    layer = nn.Linear(2, 2)
    log = Log()
    other_thread = []

    def run():
        other_thread.append(active_observers())
        spike_linear(layer, torch.ones(1, 2))

    with observing(log):
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        assert log.events == []  # the other thread's consumer is not heard
        assert other_thread == [()]
        spike_linear(layer, torch.ones(1, 2))
    assert [e[:2] for e in log.events] == [('linear', layer)]
    spike_linear(layer, torch.ones(1, 2))  # after the block: not heard
    assert len(log.events) == 1


def test_neuron_hooks_are_silent_in_a_thread_that_is_not_observing():
    net = Net()
    log = Log(net).start()
    try:
        thread = threading.Thread(target=net, args=(torch.ones(2, 3), ))
        thread.start()
        thread.join()
        assert log.events == []
    finally:
        log.close()


def test_double_registration_is_refused_and_close_removes_everything():
    net = Net()
    log = Log(net)
    with observing(log):
        with pytest.raises(ValueError, match='already observing'):
            with observing(log):
                pass
    assert active_observers() == ()
    log.track_modules(net)
    assert log.num_hooks == 1 + 2 * 3  # neuron hook + enter / leave on net, spike, fc
    with pytest.raises(ZeroDivisionError):
        with log:
            raise ZeroDivisionError
    assert log.num_hooks == 0 and active_observers() == ()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())


def test_hook_set_removes_its_hooks_on_exit():
    layer = nn.Linear(2, 2)
    seen = []
    with pytest.raises(RuntimeError):
        with HookSet() as hooks:
            hooks.add_forward_hook(layer, lambda m, i, o: seen.append('post'))
            hooks.add_forward_pre_hook(layer, lambda m, i: seen.append('pre'))
            layer(torch.ones(1, 2))
            raise RuntimeError
    layer(torch.ones(1, 2))
    assert seen == ['pre', 'post']
    assert not layer._forward_hooks and not layer._forward_pre_hooks


def test_matmul_names_follow_the_running_module():
    net = nn.Sequential(Net(), Net())
    names = []

    class Names(SpikeObserver):

        def on_matmul(self, a, b):
            names.append(self.matmul_name())

    obs = Names()
    obs.track_modules(net)
    with obs, torch.no_grad():
        net(torch.ones(3, 3))
        net(torch.ones(3, 3))
    assert names == ['0.matmul0', '1.matmul0'] * 2
