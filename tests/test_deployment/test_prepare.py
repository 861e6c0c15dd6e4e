"""prepare_for_inference: folded + channels-last + compiled model computes what the eager
model computes (dyadic weights and inputs: exact in float32 in any summation order)."""
import torch

from mmsdt.deployment import prepare_for_inference
from mmsdt.models import ESpikeFormer


def _dyadic_(model, bits=6):
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(torch.round(t * 2**bits) / 2**bits)


def test_compiled_inference_form_equals_eager(randomise_bn):
    torch.manual_seed(0)
    model = randomise_bn(ESpikeFormer('2.7m', out_indices=(2, 4))).eval()
    _dyadic_(model)  # BN statistics dyadic: folding is then not exact, so compare after it
    x = torch.round(torch.randn(1, 3, 64, 64) * 8) / 8
    folded = prepare_for_inference(model, x, use_compile=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    convs = [m for m in folded.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    _dyadic_(folded)  # the folded weights on a dyadic grid: every sum exact
    with torch.no_grad():
        want = folded(x)
    compiled = prepare_for_inference(folded, x)  # folding again finds nothing left to fold
    with torch.no_grad():
        got = compiled(x.contiguous(memory_format=torch.channels_last))
    assert len(got) == len(want) == 2
    for g, w in zip(got, want):
        assert w.abs().max() > 0
        assert torch.equal(g, w)


def test_large_model_rep_convs_are_merged_so_no_batchnorm_is_left(randomise_bn):
    # fold_bn alone leaves the BatchNorm1d that follows another BN inside each RepConv
    from torch.nn.modules.batchnorm import _BatchNorm

    from mmsdt.models import ESpikeFormerLarge
    torch.manual_seed(0)
    arch = dict(embed_dims=(8, 16, 32), depth=2, num_heads=1, mlp_ratio=2, rep_conv2=True)
    model = randomise_bn(ESpikeFormerLarge(arch).eval()).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        want = model(x)[0]
    folded = prepare_for_inference(model, x, use_compile=False)
    assert not any(isinstance(m, _BatchNorm) for m in folded.modules())
    with torch.no_grad():
        got = folded(x)[0]
    torch.testing.assert_close(got, want, rtol=0, atol=1e-9)
