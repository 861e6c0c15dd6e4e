"""Membranes carried across forward calls (streaming): a stateful neuron run over windows
with the carry on equals one run over the whole sequence, rows flagged first_in_recording
restart from zero, and nothing changes without the carry."""
import copy

import pytest
import torch

from mmsdt.snn import MultiStepIntIF, fold_time, time_steps, unfold_time
from mmsdt.snn.stream_state import StreamState, carrying, current_stream_state


def _run(neuron, x, state=None, flags=None):
    """``neuron`` on ``x`` (B, T, ...) with T set; with ``state``, carried per ``flags``."""
    steps = x.shape[1]
    if state is not None:
        state.begin(flags)
    with time_steps(steps), carrying(state):
        out = neuron(fold_time(x))
    return unfold_time(out, steps).transpose(0, 1)  # (B, T, ...)


@pytest.mark.parametrize('decay', [1.0, 0.5])
@pytest.mark.parametrize('grad', [False, True])
def test_carried_windows_equal_one_long_run(decay, grad):
    torch.manual_seed(0)
    neuron = MultiStepIntIF(max_value=4, decay=decay)
    x = (torch.rand(3, 6, 5, dtype=torch.float64) * 1.3).requires_grad_(grad)
    whole = _run(neuron, x)
    state = StreamState()
    parts = [_run(neuron, x[:, i:i + 2], state, [i == 0] * 3) for i in (0, 2, 4)]
    assert torch.equal(torch.cat(parts, 1), whole)
    if grad:  # the gradient stops at window boundaries, inside a window it flows
        parts[1].sum().backward()
        assert x.grad[:, 2:4].abs().sum() > 0
        assert torch.all(x.grad[:, :2] == 0) and torch.all(x.grad[:, 4:] == 0)


def test_first_in_recording_resets_only_its_row():
    torch.manual_seed(1)
    neuron = MultiStepIntIF(max_value=4)
    x = torch.rand(2, 4, 7, dtype=torch.float64) * 0.9  # sub-threshold charge carries over
    state = StreamState()
    _run(neuron, x[:, :2], state, [True, True])
    second = _run(neuron, x[:, 2:], state, [False, True])
    assert torch.equal(second[0], _run(neuron, x[:1])[0, 2:])  # row 0 continued
    assert torch.equal(second[1], _run(neuron, x[1:, 2:])[0])  # row 1 started from zero
    assert not torch.equal(second[0], _run(neuron, x[:1, 2:])[0])  # the carry mattered


def test_no_carry_without_state_or_time_axis():
    neuron = MultiStepIntIF(max_value=4)
    x = torch.full((1, 2, 3), 0.3, dtype=torch.float64)
    state = StreamState()
    _run(neuron, x, state, [True])
    assert len(state) == 1
    # outside carrying(): the default, state-free behaviour
    assert torch.equal(_run(neuron, x), _run(neuron, x))
    assert current_stream_state() is None
    # no time axis (after the mean over T): the neuron is stateless and leaves no state
    head_neuron = MultiStepIntIF(max_value=4)
    state.begin([False])
    with carrying(state):
        head_neuron(torch.rand(1, 3))
    assert len(state) == 1


def test_errors_name_the_problem():
    neuron = MultiStepIntIF(max_value=4)
    x = torch.rand(1, 2, 3)
    state = StreamState()
    with pytest.raises(ValueError, match=r'rows \[0\] continue a recording'):
        state.begin([False])  # nothing to continue from
    _run(neuron, x, state, [True])
    with pytest.raises(ValueError, match=r'rows \[1\] continue'):
        state.begin([False, False])  # the batch grew
    state.begin([False])
    with pytest.raises(RuntimeError, match='ran twice in one forward call'):
        with time_steps(2), carrying(state):
            neuron(fold_time(x))
            neuron(fold_time(x))
    state.begin([False])
    with pytest.raises(ValueError, match='input size changed inside a recording'):
        with time_steps(2), carrying(state):
            neuron(fold_time(torch.rand(1, 2, 4)))
    assert len(state) == 1 and len(copy.deepcopy(state)) == 0  # an EMA copy starts empty
