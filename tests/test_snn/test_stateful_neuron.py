import copy

import pytest
import torch

from mmsdt.snn import (MultiSpike, MultiStepIntIF, SpikeTrain, build_spike_neuron, spike_driven,
                       time_steps)


def _unrolled(x, T, D, norm, beta, theta, detach_reset=True, include_boundary=True):
    """Hand-unrolled reference of the three equations, the straight-through rule written out:
    s = count + (u - u.detach()) * mask, so ds/du = mask."""
    xs = x.unflatten(0, (T, -1))
    v, outs = None, []
    for t in range(T):
        h = xs[t] if v is None else beta * v + xs[t]
        u = h / theta
        mask = (u >= 0) & (u <= D) if include_boundary else (u > 0) & (u < D)
        count = torch.round(u.detach().clamp(0, D))
        s = count + (u - u.detach()) * mask
        v = h - theta * (s.detach() if detach_reset else s)
        outs.append(s / norm)
    return torch.cat(outs)


@pytest.mark.parametrize('beta,theta,detach', [(1.0, 1.0, True), (0.8, 0.7, True),
                                               (0.5, 1.3, False), (1.0, 1.0, False)])
def test_equals_hand_unrolled_reference_for_t3(beta, theta, detach):
    torch.manual_seed(0)
    T, B = 3, 2
    x = (torch.randn(T * B, 5, 4, dtype=torch.float64) * 2 + 0.8).requires_grad_()
    neuron = MultiStepIntIF(max_value=4, norm=4, decay=beta, v_threshold=theta,
                            detach_reset=detach)
    with time_steps(T):
        out = neuron(x)
    ref_x = x.detach().clone().requires_grad_()
    ref = _unrolled(ref_x, T, 4, 4.0, beta, theta, detach)
    assert torch.equal(out, ref.detach())
    counts = out * 4
    assert torch.equal(counts, counts.round()) and counts.min() >= 0 and counts.max() <= 4
    # state matters: the result differs from the stateless neuron on X_t / theta
    assert not torch.equal(out, MultiSpike(norm=4)(x.detach() / theta))
    g = torch.randn_like(out)
    out.backward(g)
    ref.backward(g)
    torch.testing.assert_close(x.grad, ref_x.grad, rtol=0, atol=1e-14)


def test_t1_equals_the_stateless_neuron_exactly():
    torch.manual_seed(1)
    for dtype in (torch.float32, torch.float64):
        u = torch.randn(6, 3, 8, 8, dtype=dtype) * 3 + 1
        u[0, 0, 0, :4] = torch.tensor([0.5, 2.5, 4.0, 0.0], dtype=dtype)  # ties and bounds
        for rounding in ('half_even', 'half_up'):
            ref_u = u.clone().requires_grad_()
            ref = MultiSpike(norm=4, rounding=rounding)(ref_u)
            g = torch.randn_like(ref)
            ref.backward(g)
            for ctx in (time_steps(1), time_steps(None)):
                x = u.clone().requires_grad_()
                with ctx:
                    out = MultiStepIntIF(norm=4, rounding=rounding, decay=0.6)(x)
                out.backward(g)
                assert torch.equal(out, ref) and torch.equal(x.grad, ref_u.grad)


def test_decay_zero_is_the_stateless_neuron_at_every_step():
    torch.manual_seed(2)
    x = torch.randn(12, 7) * 3
    with time_steps(4):
        out = MultiStepIntIF(decay=0.0)(x)
    assert torch.equal(out, MultiSpike()(x))


def test_hand_counted_if_example():
    # IF, theta 1, D 4, norm 1, X_t = 0.3:
    # H1 = 0.3 -> S 0, V 0.3; H2 = 0.6 -> S 1, V -0.4; H3 = -0.1 -> S 0, V -0.1
    neuron = MultiStepIntIF(max_value=4, norm=1)
    with time_steps(3):
        out = neuron(torch.full((3, 1), 0.3, dtype=torch.float64))
    assert out.flatten().tolist() == [0, 1, 0]


def test_gradient_inside_the_clamp_range_flows_through_time():
    # all potentials inside (0, D): with the reset detached, dL/dX_1 = (1 + b + b^2) / (theta
    # norm), dL/dX_2 = (1 + b) / (theta norm), dL/dX_3 = 1 / (theta norm)
    beta, theta, norm = 0.5, 2.0, 4.0
    x = torch.tensor([[1.1], [1.2], [1.3]], dtype=torch.float64, requires_grad=True)
    with time_steps(3):
        MultiStepIntIF(norm=norm, decay=beta, v_threshold=theta)(x).sum().backward()
    expected = torch.tensor([[1 + beta + beta**2], [1 + beta], [1.0]], dtype=torch.float64)
    torch.testing.assert_close(x.grad, expected / (theta * norm), rtol=0, atol=1e-15)
    # outside the range (below 0 at every step) no gradient reaches the input
    x = torch.full((3, 1), -1.0, dtype=torch.float64, requires_grad=True)
    with time_steps(3):
        MultiStepIntIF()(x).sum().backward()
    assert x.grad.abs().sum() == 0


def test_large_inputs_save_a_packed_mask_with_the_same_gradient():
    torch.manual_seed(3)
    T = 2
    x = (torch.randn(T * 2, 64, 48, 48) * 2).requires_grad_()  # >= 2**18 elements
    ref_x = x.detach().clone().requires_grad_()
    with time_steps(T):
        out = MultiStepIntIF(decay=0.9)(x)
    ref = _unrolled(ref_x, T, 4, 4.0, 0.9, 1.0)
    g = torch.randn_like(out)
    out.backward(g)
    ref.backward(g)
    assert torch.equal(out, ref.detach())
    torch.testing.assert_close(x.grad, ref_x.grad, rtol=0, atol=1e-6)


def test_no_state_between_calls_and_parameter_free():
    neuron = MultiStepIntIF(norm=1)
    x = torch.full((4, 3), 0.6)
    with time_steps(2):
        first = neuron(x)
        neuron(torch.full((4, 3), 3.7))  # another batch in between
        again = neuron(x)
    assert torch.equal(first, again)
    assert not list(neuron.parameters()) and not list(neuron.buffers())
    assert neuron.state_dict() == {}
    assert torch.equal(copy.deepcopy(neuron)(x), neuron(x))


def test_spike_driven_counts_equal_integer_counts():
    torch.manual_seed(4)
    neuron = MultiStepIntIF(decay=0.7)
    x = torch.randn(6, 5, dtype=torch.float64) * 3
    with time_steps(3):
        ref = neuron(x)
        with spike_driven(neuron):
            train = neuron(x)
    assert isinstance(train, SpikeTrain)
    assert torch.equal(train.counts() / train.norm, ref)


def test_tie_marks_carry_to_later_steps():
    neuron = MultiStepIntIF(norm=1)
    x = torch.tensor([[0.5], [0.2], [0.1]], dtype=torch.float64)  # a tie at t = 0
    with time_steps(3):
        near = neuron.near_rounding_tie(x, 1e-6)
    assert near.flatten().tolist() == [True, True, True]


def test_bad_time_fold_and_arguments_are_named():
    neuron = MultiStepIntIF()
    with time_steps(4), pytest.raises(ValueError, match=r'\(6, 2\).*T=4'):
        neuron(torch.zeros(6, 2))
    with pytest.raises(ValueError, match='decay'):
        MultiStepIntIF(decay=1.5)
    with pytest.raises(ValueError, match='v_threshold'):
        MultiStepIntIF(v_threshold=0)


def test_build_spike_neuron_modes():
    assert type(build_spike_neuron(dict(max_value=4))) is MultiSpike
    stateful = build_spike_neuron(dict(mode='stateful', decay=0.5, v_threshold=2.0))
    assert isinstance(stateful, MultiStepIntIF) and stateful.decay == 0.5
    with pytest.raises(ValueError, match='stateful'):
        build_spike_neuron(dict(decay=0.5))
    with pytest.raises(ValueError, match='mode'):
        build_spike_neuron(dict(mode='lif'))
