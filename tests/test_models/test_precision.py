"""The one mixed-precision switch (mmsdt.models.precision): a model part gets the
``autocast_dtype`` option by inheriting AutocastSwitch, and the float32 tools turn every such
part off in one call."""
import pytest
import torch
from torch import nn

from mmsdt.apis import switch_off_autocast as api_switch_off
from mmsdt.models import ESpikeFormer
from mmsdt.models.precision import (AutocastSwitch, autocast_disabled, check_autocast_dtype,
                                    cpu_autocast_active, switch_off_autocast)


class _Part(AutocastSwitch, nn.Module):
    """A new model part: the mixin and two lines in forward, nothing threaded elsewhere."""

    def __init__(self, autocast_dtype=None):
        super().__init__()
        self.set_autocast_dtype(autocast_dtype)
        self.conv = nn.Conv2d(3, 4, 1)
        self.seen = []

    def forward(self, x):
        with self.autocast(x):
            y = self.conv(x)
            self.seen.append((y.dtype, cpu_autocast_active(x)))
            with autocast_disabled(x, cpu_autocast_active(x)):
                self.seen.append((self.conv(x).dtype, cpu_autocast_active(x)))
        return self.float32_outputs([y])


def test_a_new_part_gets_bf16_from_the_mixin():
    x = torch.randn(1, 3, 4, 4)
    part = _Part('bfloat16')
    [out] = part(x)
    assert part.seen == [(torch.bfloat16, True), (torch.float32, False)]
    assert out.dtype == torch.float32
    plain = _Part()
    plain(x)
    assert plain.seen == [(torch.float32, False), (torch.float32, False)]


def test_switch_off_turns_every_part_to_float32():
    model = nn.Module()
    model.backbone = ESpikeFormer('2.7m', autocast_dtype='bfloat16')
    model.extra = _Part('bfloat16')
    model.plain = _Part()
    assert api_switch_off is switch_off_autocast  # mmsdt.apis exports the same call
    assert switch_off_autocast(model) == ['backbone', 'extra']
    assert model.backbone.autocast_dtype is None and model.extra.autocast_dtype is None
    assert switch_off_autocast(model) == []
    outs = model.backbone(torch.randn(1, 3, 32, 32))
    assert all(o.dtype == torch.float32 for o in outs)


def test_bad_dtype_is_refused():
    assert check_autocast_dtype(None) is None and check_autocast_dtype('float16') == 'float16'
    with pytest.raises(ValueError, match="autocast_dtype must be None, 'bfloat16'"):
        _Part('int8')
