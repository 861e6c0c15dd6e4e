"""The folded, channels-last, compiled form of a spiking model for CPU inference in PyTorch."""
import torch
from torch import nn

from mmsdt.snn import fold_bn


def prepare_for_inference(model: nn.Module, example: torch.Tensor,
                          use_compile: bool = True) -> nn.Module:
    """Fold, convert to channels-last and (optionally) compile ``model`` for inference.

    Steps: ``model.eval()``; every submodule with a ``fuse_rep_convs`` method (e.g.
    :class:`mmsdt.ESpikeFormerLarge`, whose RepConvs chain two BNs that ``fold_bn`` alone
    cannot fold) merges its re-parameterised convs; :func:`mmsdt.snn.fold_bn` on ``example`` (BN into the convs,
    ``1/norm`` into the next weights); weights in channels-last memory format; with ``use_compile``
    ``torch.compile`` with frozen weights (inductor ``freezing``: weights become constants and
    are pre-packed for oneDNN), compiled by one forward on ``example`` (tens of seconds on 2
    cores). Inputs should be channels-last too (``x.contiguous(memory_format=
    torch.channels_last)``).

    The result computes the same function as ``model`` in integer mode; in float32 the compiled
    kernels sum in another order, so a potential within rounding error of a tie (k + 0.5) may
    round to the neighbouring count. Training, spike-driven mode and the energy counters need
    the eager model. Returns the compiled module (or the folded model without ``use_compile``).
    """
    model.eval()
    with torch.no_grad():
        for module in list(model.modules()):
            if callable(getattr(module, 'fuse_rep_convs', None)):
                module.fuse_rep_convs()
        fold_bn(model, example)
        model = model.to(memory_format=torch.channels_last)
        if not use_compile:
            return model
        compiled = torch.compile(model, options={'freezing': True})
        compiled(example.contiguous(memory_format=torch.channels_last))
    return compiled
