"""RoIAlign as a sparse matrix product: the same values as torchvision's / mmcv's RoIAlign,
with a backward pass that is a second sparse product instead of a serial scatter loop.

RoIAlign is linear in the feature map: every output bin is a weighted sum of feature pixels
(bilinear weights of its sample points, divided by their number), and the weights are the same
for every channel. With the feature map as an ``(N*H*W, C)`` matrix (a view for channels-last
maps), the output is ``S @ F`` for a sparse ``(R*PH*PW, N*H*W)`` matrix ``S`` built from the
RoIs alone, and the gradient of the feature map is ``S^T @ G``. Both are multi-threaded sparse
x dense products over contiguous channel rows; torchvision's CPU backward walks every sample
point of every channel in one thread (on the toy detector's 4 x 128 RoIs: ~40 ms per call
against ~3 ms here).

Sample points, the adaptive grid (``sampling_ratio=0``: ``ceil(roi_size / output_size)`` per
RoI), the ``aligned`` half-pixel offset and the treatment of points outside the map follow
torchvision's ``roi_align`` (which mmcv's ``RoIAlign(use_torchvision=True)`` calls); outputs
and feature gradients equal it up to summation order (tested in float64). RoI coordinates get
no gradient (as in torchvision and mmcv). The bilinear weights are separable: along each axis
the weights of a bin's sample points are first summed per pixel (a window of about
``grid + 1`` pixels), and a bin's row of ``S`` is the outer product of its two windows, so
``S`` holds about ``R * PH * PW * (grid + 1)^2`` entries (an int64 column and a weight each),
with the widest window among the RoIs of one call. :func:`multi_level_roi_align` stacks the
maps of all FPN levels in one feature matrix, so an extractor needs one product per call.
"""
import math
import warnings
from typing import Sequence, Tuple, Union

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ['sparse_roi_align', 'multi_level_roi_align', 'SparseRoIAlign']


def _csr(crow, col, value, shape):
    # the parts are built here, valid by construction; torch's CSR type says it is 'beta' once
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse CSR tensor support is in beta')
        return torch.sparse_csr_tensor(crow, col, value, shape, check_invariants=False)


def _axis_weights(start, bin_size, grid, max_grid, bins, length):
    """Bilinear weights of the sample points along one axis, summed per pixel.

    Args:
        start, bin_size (Tensor): (R, ) first coordinate and bin size of every RoI.
        grid (Tensor): (R, ) sample points per bin of every RoI; ``max_grid`` their maximum.
        bins (int): output bins along the axis.
        length (Tensor): (R, ) size of every RoI's feature map along the axis.

    Returns:
        tuple: ``first`` (R, bins), the first pixel of every bin's window, and ``weight``
        (R, bins, K), the summed weights of pixels ``first .. first + K - 1`` (K: the widest
        window of the call). Points beyond the grid of their RoI or outside ``[-1, length]``
        add nothing.
    """
    dtype = start.dtype
    steps = torch.arange(max_grid, dtype=dtype, device=start.device)
    pos = torch.arange(bins, dtype=dtype, device=start.device)
    length = length[:, None, None]
    # torchvision's order: start + p * bin + (i + .5) * bin / grid
    t = (start[:, None, None] + pos[None, :, None] * bin_size[:, None, None] +
         (steps[None, None, :] + 0.5) * bin_size[:, None, None] /
         grid.to(dtype).clamp(min=1)[:, None, None])
    valid = (steps[None, None, :] < grid[:, None, None]) & (t >= -1) & (t <= length)
    t = t.clamp(min=0)
    low = t.floor().long()
    at_edge = low >= length - 1
    low = torch.minimum(low, length - 1)
    high = torch.where(at_edge, low, low + 1)
    frac = torch.where(at_edge, torch.zeros_like(t), t - low.to(dtype))
    weight = torch.stack([1 - frac, frac], -1) * valid[..., None].to(dtype)
    # a bin's window starts at the lowest neighbour of its valid samples (0 if none)
    first = torch.where(valid, low, torch.full_like(low, torch.iinfo(low.dtype).max)).amin(2)
    first = torch.where(valid.any(2), first, torch.zeros_like(first))
    offset = torch.stack([low, high], -1) - first[:, :, None, None]
    offset = torch.where(weight != 0, offset, torch.zeros_like(offset)).flatten(2)
    width = int(offset.max()) + 1
    merged = weight.new_zeros(*first.shape, width)
    return first, merged.scatter_add_(2, offset, weight.flatten(2))


def _sample_matrix(rois: torch.Tensor, levels: torch.Tensor, shapes: torch.Tensor,
                   scales: torch.Tensor, num_images: int, output_size, sampling_ratio: int,
                   aligned: bool, dtype):
    """CSR parts ``(crow, col, value)`` of the RoIAlign matrix, shape (R*PH*PW, sum N*H*W)
    over feature maps of sizes ``shapes`` (L, 2) stacked level after level."""
    out_h, out_w = output_size
    rois = rois.to(dtype)
    num_rois = rois.shape[0]
    offset = 0.5 if aligned else 0.0
    height, width = shapes[levels, 0], shapes[levels, 1]
    level_size = num_images * shapes[:, 0] * shapes[:, 1]
    level_start = torch.cumsum(level_size, 0) - level_size
    base = level_start[levels] + rois[:, 0].long() * height * width
    scale = scales.to(dtype)[levels]
    x_start = rois[:, 1] * scale - offset
    y_start = rois[:, 2] * scale - offset
    roi_w = rois[:, 3] * scale - offset - x_start
    roi_h = rois[:, 4] * scale - offset - y_start
    if not aligned:  # the legacy RoIAlign forces boxes to at least 1x1
        roi_w, roi_h = roi_w.clamp(min=1), roi_h.clamp(min=1)
    bin_h, bin_w = roi_h / out_h, roi_w / out_w
    if sampling_ratio > 0:
        grid_h = torch.full((num_rois, ), sampling_ratio, dtype=torch.long, device=rois.device)
        grid_w = grid_h
    else:
        grid_h = torch.ceil(roi_h / out_h).long()
        grid_w = torch.ceil(roi_w / out_w).long()
    max_h = max(int(grid_h.max()), 1)
    max_w = max(int(grid_w.max()), 1)
    count = (grid_h * grid_w).clamp(min=1).to(dtype)
    y_first, y_weight = _axis_weights(y_start, bin_h, grid_h, max_h, out_h, height)
    x_first, x_weight = _axis_weights(x_start, bin_w, grid_w, max_w, out_w, width)
    win_h, win_w = y_weight.shape[2], x_weight.shape[2]
    # entries (R, PH, PW, win_h, win_w): every pair of a row and a column of a bin's window
    weight = (y_weight[:, :, None, :, None] * x_weight[:, None, :, None, :] /
              count[:, None, None, None, None])
    rows_of_window = y_first[:, :, None] + torch.arange(win_h, device=rois.device)
    cols_of_window = x_first[:, :, None] + torch.arange(win_w, device=rois.device)
    col = ((base[:, None, None] + rows_of_window * width[:, None, None])[:, :, None, :, None] +
           cols_of_window[:, None, :, None, :])
    rows = num_rois * out_h * out_w
    keep = weight.reshape(rows, -1) != 0
    crow = torch.zeros(rows + 1, dtype=torch.long, device=rois.device)
    crow[1:] = keep.sum(1).cumsum(0)
    entries = keep.view(-1).nonzero().squeeze(1)
    return crow, col.reshape(-1)[entries], weight.reshape(-1)[entries]


class _SparseProduct(torch.autograd.Function):
    """``S @ features`` for a CSR matrix given by its parts; the gradient goes to the
    features only (``S^T @ grad``, with ``S^T`` built by a stable sort of the columns)."""

    @staticmethod
    def forward(ctx, crow, col, value, num_cols, features):
        ctx.save_for_backward(crow, col, value)
        ctx.num_cols = num_cols
        matrix = _csr(crow, col, value, (crow.numel() - 1, num_cols))
        return torch.sparse.mm(matrix, features)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        crow, col, value = ctx.saved_tensors
        num_rows, num_cols = crow.numel() - 1, ctx.num_cols
        row = torch.repeat_interleave(torch.arange(num_rows, device=crow.device), crow.diff(),
                                      output_size=col.numel())
        order = torch.sort(col, stable=True).indices
        crow_t = torch.zeros(num_cols + 1, dtype=torch.long, device=crow.device)
        crow_t[1:] = torch.bincount(col, minlength=num_cols).cumsum(0)
        transposed = _csr(crow_t, row[order], value[order], (num_cols, num_rows))
        return None, None, None, None, torch.sparse.mm(transposed, grad.contiguous())


def _pair(value) -> Tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f'output_size must be an int or (height, width), got {value!r}')
    return int(value[0]), int(value[1])


def _check_rois(rois: torch.Tensor, num_images: int, caller: str, feature_shape) -> None:
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'{caller}: rois must be (R, 5) rows of (image index, x1, y1, '
                         f'x2, y2), got shape {tuple(rois.shape)}')
    if rois.shape[0] and num_images and not 0 <= int(rois[:, 0].min()) <= \
            int(rois[:, 0].max()) < num_images:
        raise ValueError(f'{caller}: rois[:, 0] holds image indices outside '
                         f'[0, {num_images}) for an input of shape {feature_shape}')


def _roi_align(feats: Sequence[torch.Tensor], rois: torch.Tensor, levels: torch.Tensor,
               output_size: Tuple[int, int], scales: Sequence[float], sampling_ratio: int,
               aligned: bool) -> torch.Tensor:
    """RoIAlign of every RoI on the map of its level: one sparse product over all maps."""
    num_images, channels = feats[0].shape[:2]
    out_h, out_w = output_size
    num_rois = rois.shape[0]
    dtype = feats[0].dtype
    compute_dtype = dtype if dtype in (torch.float32, torch.float64) else torch.float32
    device = rois.device
    shapes = torch.tensor([f.shape[2:] for f in feats], dtype=torch.long, device=device)
    with torch.no_grad():
        crow, col, value = _sample_matrix(
            rois.detach(), levels, shapes,
            torch.tensor(scales, dtype=torch.float64, device=device), num_images,
            (out_h, out_w), sampling_ratio, aligned, compute_dtype)
    # an (N*H*W, C) matrix per map (a view for channels-last maps), stacked level by level
    matrices = [f.to(compute_dtype).permute(0, 2, 3, 1).reshape(-1, channels) for f in feats]
    features = matrices[0] if len(matrices) == 1 else torch.cat(matrices)
    out = _SparseProduct.apply(crow, col, value, features.shape[0], features)
    return out.view(num_rois, out_h, out_w, channels).permute(0, 3, 1, 2).to(dtype)


def sparse_roi_align(input: torch.Tensor, rois: torch.Tensor,
                     output_size: Union[int, Tuple[int, int]], spatial_scale: float = 1.0,
                     sampling_ratio: int = 0, aligned: bool = True) -> torch.Tensor:
    """RoIAlign (average of bilinear samples per bin) of ``input`` (N, C, H, W) over ``rois``
    (R, 5: image index, x1, y1, x2, y2 in input-image coordinates); returns (R, C, PH, PW).

    Same arguments and values as ``torchvision.ops.roi_align``. Floating inputs other than
    float32 / float64 are computed in float32 and returned in their own dtype.
    """
    if input.dim() != 4:
        raise ValueError(f'sparse_roi_align: input must be (N, C, H, W), got shape '
                         f'{tuple(input.shape)}')
    _check_rois(rois, input.shape[0], 'sparse_roi_align', tuple(input.shape))
    out_h, out_w = _pair(output_size)
    if rois.shape[0] == 0 or input.numel() == 0:
        return input.new_zeros(rois.shape[0], input.shape[1], out_h, out_w)
    levels = torch.zeros(rois.shape[0], dtype=torch.long, device=rois.device)
    return _roi_align([input], rois, levels, (out_h, out_w), [spatial_scale], sampling_ratio,
                      aligned)


def multi_level_roi_align(feats: Sequence[torch.Tensor], rois: torch.Tensor,
                          levels: torch.Tensor, output_size: Union[int, Tuple[int, int]],
                          spatial_scales: Sequence[float], sampling_ratio: int = 0,
                          aligned: bool = True) -> torch.Tensor:
    """RoIAlign of every RoI on the feature map of its level, as one sparse product.

    The values of :func:`sparse_roi_align` (torchvision's) applied per level, with the
    outputs in the order of ``rois``; every map gets a gradient (zeros where no RoI reads it).

    Args:
        feats (Sequence[Tensor]): L maps (N, C, H_l, W_l) of equal N, C and dtype.
        rois (Tensor): (R, 5) rows of (image index, x1, y1, x2, y2) in image coordinates.
        levels (Tensor): (R, ) level of every RoI, in ``[0, L)``.
        output_size (int | tuple[int, int]): (PH, PW).
        spatial_scales (Sequence[float]): L scales, map size over image size (1 / stride).
        sampling_ratio (int): sample points per bin and axis; 0: adaptive.
        aligned (bool): the half-pixel offset of RoIAlign v2.

    Returns:
        Tensor: (R, C, PH, PW) in the dtype of ``feats``.
    """
    feats = list(feats)
    if not feats or len(spatial_scales) != len(feats):
        raise ValueError(f'multi_level_roi_align: got {len(feats)} feature maps and '
                         f'{len(spatial_scales)} spatial scales; expected one scale per map')
    for i, f in enumerate(feats):
        if f.dim() != 4 or f.shape[:2] != feats[0].shape[:2] or f.dtype != feats[0].dtype:
            raise ValueError(f'multi_level_roi_align: feats[{i}] has shape {tuple(f.shape)} '
                             f'and dtype {f.dtype}; every map must be (N, C, H, W) with N, C '
                             f'and dtype of feats[0] {tuple(feats[0].shape)}, {feats[0].dtype}')
    _check_rois(rois, feats[0].shape[0], 'multi_level_roi_align', tuple(feats[0].shape))
    if levels.shape != rois.shape[:1] or (levels.numel() and not
                                          0 <= int(levels.min()) <= int(levels.max()) <
                                          len(feats)):
        raise ValueError(f'multi_level_roi_align: levels must be ({rois.shape[0]}, ) values in '
                         f'[0, {len(feats)}), got shape {tuple(levels.shape)}')
    out_h, out_w = _pair(output_size)
    if rois.shape[0] == 0 or feats[0].numel() == 0:
        # no RoI: zeros that still reach every map (all parameters in the graph under DDP)
        return feats[0].new_zeros(rois.shape[0], feats[0].shape[1], out_h, out_w) + \
            sum(f.sum() for f in feats) * 0
    return _roi_align(feats, rois, levels.long(), (out_h, out_w),
                      [float(s) for s in spatial_scales], sampling_ratio, aligned)


class SparseRoIAlign(nn.Module):
    """RoIAlign layer computed by :func:`sparse_roi_align`, with mmcv's ``RoIAlign`` arguments.

    Args:
        output_size (int | tuple[int, int]): (PH, PW) of every RoI's output.
        spatial_scale (float): feature-map size over input-image size (1 / stride).
        sampling_ratio (int): sample points per bin and axis; 0: adaptive,
            ``ceil(roi_size / output_size)``.
        pool_mode (str): only ``'avg'`` (RoIAlign's average of the samples).
        aligned (bool): the half-pixel offset of RoIAlign v2 (mmcv's and mmdet's default).
        use_torchvision (bool): accepted for config compatibility with mmcv's ``RoIAlign``;
            the values are torchvision's either way.
    """

    def __init__(self, output_size, spatial_scale: float = 1.0, sampling_ratio: int = 0,
                 pool_mode: str = 'avg', aligned: bool = True, use_torchvision: bool = False):
        super().__init__()
        if pool_mode != 'avg':
            raise ValueError(f'SparseRoIAlign: pool_mode={pool_mode!r} is not supported, only '
                             f"'avg' (use mmcv's RoIAlign for 'max')")
        if int(sampling_ratio) < 0:
            raise ValueError(f'SparseRoIAlign: sampling_ratio must be >= 0, got {sampling_ratio}')
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = bool(aligned)
        if not math.isfinite(self.spatial_scale) or self.spatial_scale <= 0:
            raise ValueError(f'SparseRoIAlign: spatial_scale must be > 0, got {spatial_scale}')

    def forward(self, input: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        return sparse_roi_align(input, rois, self.output_size, self.spatial_scale,
                                self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}')
