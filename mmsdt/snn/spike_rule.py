"""The neuron's rule, written once: integer spike count forward, straight-through backward.

For a membrane potential ``u`` the neuron emits the integer count ``round(clamp(u, 0, D))``
(``D`` = ``max_value``) and passes ``count / norm`` on. Backward is the straight-through
estimator: the count's gradient is taken as 1 where ``u`` lies inside the clamp range and 0
outside, so ``dL/du = dL/ds * mask / norm``.

The eager neuron (:class:`~mmsdt.snn.MultiSpike`) and the compiled training kernels
(:mod:`mmsdt.snn.kernels`) both call these functions; the kernels' bodies are traced by
``torch.compile``, so everything here is plain torch without data-dependent Python branches
(``rounding`` and ``include_boundary`` are constants of a kernel variant).
"""
from typing import Optional

import torch

ROUNDING_MODES = ('half_even', 'half_up')


def check_rounding(rounding: str) -> str:
    """``rounding`` if it is one of :data:`ROUNDING_MODES`, else a ``ValueError``."""
    if rounding not in ROUNDING_MODES:
        raise _rounding_error(rounding)
    return rounding


def _rounding_error(rounding) -> ValueError:
    return ValueError(f'rounding must be one of {ROUNDING_MODES}, got {rounding!r}')


def round_counts(clamped: torch.Tensor, rounding: str, inplace: bool = False) -> torch.Tensor:
    """Round an already clamped potential to the integer count.

    ``'half_even'``: ``torch.round`` (0.5 -> 0, 2.5 -> 2; what the released
    Base/detection/segmentation checkpoints were trained with). ``'half_up'``:
    ``floor(u + 0.5)`` (0.5 -> 1; the upstream Large models). ``inplace`` rounds ``clamped``
    itself (same values; for a tensor nobody else holds).
    """
    if rounding == 'half_even':
        return clamped.round_() if inplace else torch.round(clamped)
    if rounding == 'half_up':
        return clamped.add_(0.5).floor_() if inplace else torch.floor(clamped + 0.5)
    raise _rounding_error(rounding)


def quantize_spike_count(u: torch.Tensor, max_value: int, rounding: str) -> torch.Tensor:
    """Integer spike count ``round(clamp(u, 0, max_value))`` in the dtype of ``u``.

    Args:
        u: membrane potential, any shape and floating dtype.
        max_value: D, the largest spike count.
        rounding: ``'half_even'`` or ``'half_up'`` (see :func:`round_counts`).
    """
    return round_counts(u.clamp(0, max_value), rounding)


def straight_through_mask(u: torch.Tensor, clamped: torch.Tensor, max_value: int,
                          include_boundary: bool) -> torch.Tensor:
    """Where the straight-through gradient flows (bool, shape of ``u``).

    ``include_boundary``: ``u`` in the closed range ``[0, D]`` (``clamped == u``; False for
    NaN); otherwise the open range ``(0, D)``. ``clamped`` is ``u.clamp(0, max_value)``.
    """
    if include_boundary:
        return clamped == u
    return (u > 0) & (u < max_value)


def straight_through_grad(grad: torch.Tensor, mask: torch.Tensor,
                          norm: Optional[float]) -> torch.Tensor:
    """``dL/du = dL/ds * mask / norm`` for the gradient ``grad`` of the spikes ``s``.

    ``mask`` is :func:`straight_through_mask` (bool, or 0/1 in ``grad``'s dtype); ``norm``
    None skips the division (a division by 1 changes no value).
    """
    grad = grad * mask
    return grad if norm is None else grad.div_(norm)
