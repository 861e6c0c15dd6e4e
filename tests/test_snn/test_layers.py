"""Spiking torch layers: stock keys, spike-then-layer forward, spike-driven mode, as_spiking."""
import pytest
import torch
from torch import nn

from mmsdt.snn import (MultiSpike, SpikeConv2d, SpikeConvTranspose2d, SpikeLinear, as_spiking,
                       integer_spike_cfg, spike_driven, verify_spike_driven)

# (spiking class, torch class, constructor args, input shape)
CASES = [
    (SpikeConv2d, nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=3, padding=1),
     (2, 4, 7, 9)),
    (SpikeConv2d, nn.Conv2d,
     dict(in_channels=6, out_channels=6, kernel_size=3, stride=2, groups=3, bias=False),
     (1, 6, 9, 8)),
    (SpikeLinear, nn.Linear, dict(in_features=5, out_features=3), (7, 5)),
    (SpikeConvTranspose2d, nn.ConvTranspose2d,
     dict(in_channels=4, out_channels=2, kernel_size=2, stride=2), (2, 4, 5, 6)),
]
IDS = ['conv', 'grouped-conv', 'linear', 'deconv']


def test_integer_spike_cfg_defaults_to_norm_one_and_keeps_other_keys():
    assert integer_spike_cfg() == dict(norm=1)
    assert integer_spike_cfg(dict(max_value=8)) == dict(norm=1, max_value=8)
    assert integer_spike_cfg(dict(norm=4)) == dict(norm=4)


@pytest.mark.parametrize('spiking_cls, torch_cls, kwargs, shape', CASES, ids=IDS)
def test_same_state_dict_keys_and_default_integer_spikes(spiking_cls, torch_cls, kwargs, shape):
    layer = spiking_cls(**kwargs)
    assert list(layer.state_dict()) == list(torch_cls(**kwargs).state_dict())
    assert isinstance(layer.spike, MultiSpike) and layer.spike.norm == 1.0
    assert spiking_cls(**kwargs, spike_cfg=dict(norm=4, max_value=8)).spike.max_value == 8


@pytest.mark.parametrize('spiking_cls, torch_cls, kwargs, shape', CASES, ids=IDS)
def test_forward_is_the_layer_on_spikes_with_the_same_gradients(spiking_cls, torch_cls, kwargs,
                                                                 shape):
    torch.manual_seed(0)
    layer = spiking_cls(**kwargs, spike_cfg=dict(norm=2)).double()
    plain = torch_cls(**kwargs).double()
    plain.load_state_dict(layer.state_dict())
    x = (torch.randn(shape, dtype=torch.float64) * 3).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out = layer(x)
    ref = plain(MultiSpike(norm=2)(x_ref))
    assert torch.equal(out, ref)
    out.square().sum().backward()
    ref.square().sum().backward()
    assert torch.equal(x.grad, x_ref.grad)
    assert torch.equal(layer.weight.grad, plain.weight.grad)
    assert x.grad.abs().sum() > 0  # the straight-through gradient reaches the input


@pytest.mark.parametrize('spiking_cls, torch_cls, kwargs, shape', CASES, ids=IDS)
def test_spike_driven_mode_equals_integer_mode(spiking_cls, torch_cls, kwargs, shape):
    torch.manual_seed(0)
    layer = spiking_cls(**kwargs).double()
    x = torch.randn(shape, dtype=torch.float64) * 3
    with torch.no_grad():
        ref = layer(x)
        with spike_driven(layer):
            out = layer(x)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    assert verify_spike_driven(layer, x).ok(1e-12)


def test_a_spike_train_goes_through_spike_linear_per_binary_map(monkeypatch):
    """In spike-driven mode the layer applies its weights to D binary maps (the SOP path)."""
    layer = SpikeConv2d(3, 2, 1, bias=False)
    seen = []
    orig = nn.Conv2d._conv_forward
    monkeypatch.setattr(nn.Conv2d, '_conv_forward',
                        lambda self, x, w, b: seen.append(x.clone()) or orig(self, x, w, b))
    with torch.no_grad(), spike_driven(layer):
        layer(torch.full((1, 3, 2, 2), 2.6))  # count 3 of D=4
    (maps, ) = seen
    assert maps.shape == (4, 3, 2, 2)  # D maps of one image
    assert maps.sum(0).unique().tolist() == [3.0] and set(maps.unique().tolist()) == {0., 1.}


@pytest.mark.parametrize('torch_cls, kwargs', [
    (nn.Conv2d, dict(in_channels=4, out_channels=6, kernel_size=(3, 1), stride=(2, 1),
                     padding=(1, 0), dilation=(1, 2), groups=2, bias=False,
                     padding_mode='reflect')),
    (nn.Linear, dict(in_features=5, out_features=3)),
    (nn.ConvTranspose2d, dict(in_channels=4, out_channels=2, kernel_size=3, stride=2,
                              padding=1, output_padding=1)),
])
def test_as_spiking_takes_over_parameters_and_draws_no_random_number(torch_cls, kwargs):
    layer = torch_cls(**kwargs).eval()
    state = torch.get_rng_state()
    spiking = as_spiking(layer, dict(norm=2))
    assert torch.equal(torch.get_rng_state(), state)
    assert spiking.weight is layer.weight and spiking.bias is layer.bias
    assert not spiking.training and spiking.spike.norm == 2.0
    assert spiking.extra_repr() == layer.extra_repr()  # same arguments
    shape = (2, 5) if torch_cls is nn.Linear else (1, 4, 7, 6)
    x = torch.randn(shape) * 3
    assert torch.equal(spiking(x), layer(MultiSpike(norm=2)(x)))


def test_as_spiking_refuses_other_layers_and_subclasses_unless_allowed():

    class Wrapped(nn.ConvTranspose2d):
        """Computes what the torch layer computes."""

    with pytest.raises(TypeError, match='Conv1d'):
        as_spiking(nn.Conv1d(2, 2, 1))
    with pytest.raises(TypeError, match='Wrapped'):
        as_spiking(Wrapped(2, 2, 2))
    assert type(as_spiking(Wrapped(2, 2, 2), allow_subclass=True)) is SpikeConvTranspose2d
    for spiking in (SpikeConv2d(2, 2, 1), SpikeLinear(2, 2)):
        with pytest.raises(TypeError, match=type(spiking).__name__):
            as_spiking(spiking, allow_subclass=True)
