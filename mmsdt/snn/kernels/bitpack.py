"""One bit per element: the bool straight-through masks the eager neuron saves for backward.

``pack_mask`` stores 8 elements per byte (32x smaller than a float32 input); ``unpack_mask``
restores the bool tensor. Both are exact and work in any byte order.
"""
import sys

import torch

# Bit packing with 64-bit word arithmetic: 8 mask bytes (0/1) are one little-endian int64
# word; multiplying by _PACK moves the 0/1 of byte i to bit 56 + i (no carries), and
# spreading a byte over 8 bytes (x _SPREAD) then selecting bit i of byte i (& _SELECT)
# inverts it. Pack + unpack of a 4x96x128x128 mask: 26 ms, vs 47 ms with a per-element
# weighted sum (_pack_reference, used on big-endian machines; 2 cores).
_PACK = 0x0102040810204080
_SPREAD = 0x0101010101010101
_SELECT = 0x8040201008040201 - (1 << 64)  # as a signed int64
_LITTLE_ENDIAN = sys.byteorder == 'little'
_BIT_WEIGHTS = (1, 2, 4, 8, 16, 32, 64, 128)


def _pack_reference(flat: torch.Tensor) -> torch.Tensor:
    """Per-element weighted sum (any byte order); ``flat`` is a 1-D bool tensor, len % 8 == 0."""
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=flat.device)
    return (flat.view(-1, 8).to(torch.uint8) * weights).sum(1, dtype=torch.uint8)


def _unpack_reference(packed: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8, device=packed.device)
    return ((packed.unsqueeze(1) & weights) != 0).reshape(-1)


def pack_mask(mask: torch.Tensor) -> torch.Tensor:
    """Pack a bool tensor into uint8 bytes, 8 elements per byte (element i of each group of
    8 is bit i; row-major order)."""
    flat = mask.reshape(-1)
    pad = (-flat.numel()) % 8
    if pad:
        flat = torch.cat([flat, flat.new_zeros(pad)])
    if not _LITTLE_ENDIAN:
        return _pack_reference(flat)
    if flat.storage_offset() % 8:  # int64 views need 8-byte aligned storage
        flat = flat.clone()
    words = flat.view(torch.uint8).view(torch.int64)
    return ((words * _PACK) >> 56).to(torch.uint8)


def unpack_mask(packed: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Inverse of :func:`pack_mask`: a bool tensor of ``shape``."""
    if not _LITTLE_ENDIAN:
        return _unpack_reference(packed)[:shape.numel()].view(shape)
    bytes_ = ((packed.to(torch.int64) * _SPREAD) & _SELECT).view(torch.uint8)
    return (bytes_[:shape.numel()] != 0).view(shape)
