"""mmsdt.snn.SynapticOpCounter: MACs and exact SOPs against hand counts, modes, D and norm."""
import pytest
import torch
from torch import nn

from mmsdt.snn import (ENERGY_PRESETS, MemoryCost, MultiSpike, SpikeConv2d, SpikeLinear,
                       SpikeTrain, SynapticOpCounter, spike_driven, spike_layout, spike_matmul)

X = torch.tensor([[0., 1., 2.], [3., 4., 0.], [1., 0., 2.]])
# how many 3x3 windows (padding 1, stride 1) of a 3x3 map cover each position
COVER = torch.tensor([[4., 6., 4.], [6., 9., 6.], [4., 6., 4.]])


class ThreeLayers(nn.Module):
    """analog conv (2 identical channels = x) -> SpikeConv2d 2->3 k3 (weights 0, bias 1, 2, 3)
    -> SpikeLinear 27->4: every count is known by hand."""

    def __init__(self, spike_cfg=None):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 1, bias=False)
        self.conv = SpikeConv2d(2, 3, 3, padding=1, spike_cfg=spike_cfg)
        self.fc = SpikeLinear(27, 4)
        with torch.no_grad():
            self.stem.weight.fill_(1.)
            self.conv.weight.zero_()
            self.conv.bias.copy_(torch.tensor([1., 2., 3.]))

    def forward(self, x):
        return self.fc(self.conv(self.stem(x)).flatten(1))


def _count(model, x, driven=False, **report):
    with torch.no_grad(), SynapticOpCounter(model) as counter:
        if driven:
            with spike_driven(model):
                model(x)
        else:
            model(x)
    return counter.report(num_images=x.shape[0], **report)


def test_hand_counted_network():
    report = _count(ThreeLayers(), X.view(1, 1, 3, 3))
    rows = {r['name']: r for r in report.layer_rows()}
    assert list(rows) == ['stem', 'conv', 'fc']
    stem, conv, fc = rows['stem'], rows['conv'], rows['fc']
    # the stem sees the analog image: 18 outputs x 1 tap, billed as MACs
    assert (stem['input'], stem['macs'], stem['sops']) == ('analog', 18, 0)
    assert stem['energy_mJ'] == pytest.approx(18 * 4.6e-9)
    # conv: counts = x in both channels; each count meets (windows covering it) x 3 weights
    assert conv['input'] == 'spikes'
    # docs/reference_numbers.md: sop-three-layers
    assert conv['sops'] == 3 * 2 * float((X * COVER).sum()) == 480
    assert conv['macs'] == 9 * 3 * 2 * 9  # the ANN count includes the padded taps
    assert conv['mean_count'] == pytest.approx(float(X.sum()) / 9)
    # fc: counts 1, 2, 3 on 9 positions each, fan-out 4
    assert fc['sops'] == (9 * (1 + 2 + 3)) * 4 == 216 and fc['macs'] == 27 * 4
    total = report.totals()['total']
    assert total['energy_mJ'] == pytest.approx((18 * 4.6 + (480 + 216) * 0.9) * 1e-9)
    assert total['energy_mJ'] == pytest.approx(sum(r['energy_mJ'] for r in rows.values()))
    assert total['sops'] == 696 and total['analog_macs'] == 18
    assert total['ann_macs'] == 18 + 486 + 108


def test_per_image_figures_and_presets():
    x = X.view(1, 1, 3, 3).repeat(5, 1, 1, 1)
    preset = ENERGY_PRESETS['45nm-int8']
    report = _count(ThreeLayers(), x, **preset)
    total = report.totals()['total']
    assert report.num_images == 5 and total['sops'] == 696  # per image
    assert total['energy_mJ'] == pytest.approx((18 * 0.23 + 696 * 0.03) * 1e-9)


def test_spike_driven_mode_counts_the_same():
    x = torch.rand(2, 1, 3, 3) * 5
    a, b = _count(ThreeLayers(), x), _count(ThreeLayers(), x, driven=True)
    assert [(r['name'], r['sops'], r['macs'], r['mean_count']) for r in a.layer_rows()] == \
        [(r['name'], r['sops'], r['macs'], r['mean_count']) for r in b.layer_rows()]


def test_max_value_and_norm_change_the_counts_as_they_must():
    x = X.view(1, 1, 3, 3)
    d2 = {r['name']: r for r in _count(ThreeLayers(dict(max_value=2)), x).layer_rows()}
    # docs/reference_numbers.md: sop-clamped
    assert d2['conv']['sops'] == 3 * 2 * float((X.clamp(max=2) * COVER).sum())  # 336
    # norm divides what the next layer sees, not the number of spikes it integrates
    n4 = {r['name']: r for r in _count(ThreeLayers(dict(norm=4)), x).layer_rows()}
    assert n4['conv']['sops'] == 480 and n4['conv']['mean_count'] == pytest.approx(13 / 9)


def test_product_of_two_spike_tensors_counts_every_pair_of_binary_maps():
    g = torch.Generator().manual_seed(0)
    sa = torch.randint(0, 5, (2, 3, 6, 4), generator=g).double()
    sb = torch.randint(0, 5, (2, 3, 4, 5), generator=g).double()
    ta, tb = SpikeTrain.from_counts(sa, 4, 1.), SpikeTrain.from_counts(sb, 4, 1.)
    expected = sum(float((ma @ mb).sum()) for ma in ta.maps for mb in tb.maps)

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.spike = MultiSpike(norm=1)

        def forward(self, a, b, analog):
            return spike_matmul(spike_matmul(a, b), analog)

    model = Attn()
    with SynapticOpCounter(model) as counter:
        model(ta, tb, torch.rand(2, 3, 5, 7, dtype=torch.float64))
    rows = {r['name']: r for r in counter.report(1).layer_rows()}
    assert rows['matmul0']['sops'] == expected and rows['matmul0']['input'] == 'spikes'
    assert rows['matmul0']['macs'] == 2 * 3 * 6 * 4 * 5
    assert rows['matmul1']['input'] == 'analog' and rows['matmul1']['sops'] == 0


def test_backbone_integer_and_spike_driven_counts_agree():
    from mmsdt.models import ESpikeFormer
    torch.manual_seed(0)
    model = ESpikeFormer('2.7m', out_indices=(4, )).eval()
    x = torch.randn(1, 3, 48, 32)
    a, b = _count(model, x), _count(model, x, driven=True)
    ra, rb = a.layer_rows(), b.layer_rows()
    assert [(r['name'], r['input'], r['sops'], r['macs']) for r in ra] == \
        [(r['name'], r['input'], r['sops'], r['macs']) for r in rb]
    # only the stem conv sees an analog tensor; q (k^T v) has a spike operand (q)
    assert [r['name'] for r in ra if r['input'] == 'analog'] == ['downsample1_1.encode_conv']
    convs = [n for n, m in model.named_modules()
             if isinstance(m, (nn.Conv1d, nn.Conv2d))]
    assert sorted(r['name'] for r in ra if r['op'] != 'matmul') == sorted(convs)
    assert sum(r['name'].endswith('matmul0') for r in ra) == 8  # one k^T v per block


def test_a_model_without_spikes_is_refused():
    with pytest.raises(ValueError, match='no spiking layer'):
        SynapticOpCounter(nn.Sequential(nn.Conv2d(3, 4, 3)))


def test_counter_leaves_nothing_behind():
    from mmsdt.snn import active_observers
    model = ThreeLayers()
    hooks_before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
                       for m in model.modules())
    _count(model, X.view(1, 1, 3, 3))
    assert active_observers() == ()
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks)
               for m in model.modules()) == hooks_before


class MemoryNet(nn.Module):
    """analog 1x1 conv -> spike-fed 3x3 conv with padding 1 -> neuron -> product of the spike
    map with its own transpose: every byte of the memory estimate is countable by hand."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 1, bias=False)
        self.conv = SpikeConv2d(2, 3, 3, padding=1)
        self.spike = MultiSpike()

    def forward(self, x):
        s = self.spike(self.conv(self.stem(x))).flatten(2)  # (1, 3, 9), a view of the spikes
        return spike_matmul(s, spike_layout(s, lambda t: t.transpose(1, 2)))


def test_memory_traffic_hand_counted():
    torch.manual_seed(0)
    report = _count(MemoryNet(), torch.randn(1, 1, 3, 3) * 3)
    layers = {layer.name: layer for layer in report.layers}
    assert list(layers) == ['stem', 'conv', 'matmul0']
    # MemoryCost defaults: 4 bytes per weight and per analog value, 1 byte per spike count.
    stem, conv, matmul = layers['stem'], layers['conv'], layers['matmul0']
    # stem (analog): weights 2 x 1 x 1 x 1 = 2 (no bias) -> 8 B; input 1 x 1 x 3 x 3 = 9 analog
    # values -> 36 B; output 1 x 2 x 3 x 3 = 18 values -> 72 B
    assert (stem.bytes_read, stem.bytes_written) == (2 * 4 + 9 * 4, 18 * 4) == (44, 72)
    # conv (spikes in): weights 3 x 2 x 3 x 3 = 54 + bias 3 = 57 -> 228 B; input 1 x 2 x 3 x 3
    # = 18 spike counts -> 18 B (read once, padding taps read nothing); padding 1 keeps the
    # 3 x 3 size, output 1 x 3 x 3 x 3 = 27 values -> 108 B
    assert (conv.bytes_read, conv.bytes_written) == (57 * 4 + 18 * 1, 27 * 4) == (246, 108)
    # matmul (1, 3, 9) @ (1, 9, 3), both spike operands: no weights; 27 + 27 spike counts ->
    # 54 B; output 1 x 3 x 3 = 9 values -> 36 B
    assert (matmul.spike_input, matmul.weight_elements) == (True, 0)
    assert (matmul.bytes_read, matmul.bytes_written) == (27 + 27, 9 * 4) == (54, 36)
    # docs/reference_numbers.md: memory-traffic
    # 44 + 72 + 246 + 108 + 54 + 36 = 560 B at 24.96 pJ per byte, per image (1 image), in mJ
    total = report.totals()['total']
    assert total['memory_mJ'] == pytest.approx(560 * 24.96 * 1e-9, rel=1e-12)


def test_memory_traffic_follows_the_memory_cost():
    cost = MemoryCost(weight_bytes=1, activation_bytes=2, spike_bytes=0.5, pj_per_byte=10)
    with torch.no_grad(), SynapticOpCounter(MemoryNet(), memory=cost) as counter:
        counter.model(torch.randn(1, 1, 3, 3))
    layers = {layer.name: layer for layer in counter.report(num_images=1).layers}
    # the same element counts as above at 1 B per weight, 2 B per analog value, 0.5 B per spike
    assert (layers['stem'].bytes_read, layers['stem'].bytes_written) == (2 + 9 * 2, 18 * 2)
    assert (layers['conv'].bytes_read, layers['conv'].bytes_written) == (57 + 18 * 0.5, 27 * 2)
    assert (layers['matmul0'].bytes_read, layers['matmul0'].bytes_written) == (54 * 0.5, 9 * 2)


def test_energy_defaults_are_the_default_preset():
    from mmsdt.snn.energy import DEFAULT_PRESET, EnergyReport
    preset = ENERGY_PRESETS[DEFAULT_PRESET]
    report = _count(ThreeLayers(), X.view(1, 1, 3, 3))
    assert (report.e_mac, report.e_ac) == (preset['e_mac'], preset['e_ac'])
    assert (EnergyReport([], 1).e_mac, EnergyReport([], 1).e_ac) == (preset['e_mac'],
                                                                    preset['e_ac'])
    int8 = _count(ThreeLayers(), X.view(1, 1, 3, 3), **ENERGY_PRESETS['45nm-int8'])
    assert int8.totals()['total']['energy_mJ'] == pytest.approx((18 * 0.23 + 696 * 0.03) * 1e-9)
