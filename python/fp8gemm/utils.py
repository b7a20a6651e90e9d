"""Size helpers and the canonical layout of 1x128 scale tensors.

Everything here is plain integer arithmetic or torch ops, so it traces in
``torch.compile(fullgraph=True)`` and runs on fake tensors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "ceil_div",
    "align",
    "get_tma_aligned_size",
    "get_m_alignment_for_contiguous_layout",
    "get_col_major_tma_aligned_tensor",
]

# The bulk copy engine (TMA) needs every global stride but the innermost to be a
# multiple of 16 bytes.
_TMA_ALIGNMENT_BYTES = 16


def ceil_div(a: int, b: int) -> int:
    """Return ``ceil(a / b)`` for a non-negative ``a`` and a positive ``b``."""
    return (a + b - 1) // b


def align(x: int, a: int) -> int:
    """Round ``x`` up to the next multiple of ``a``."""
    return ceil_div(x, a) * a


def get_tma_aligned_size(x: int, element_size: int) -> int:
    """Round ``x`` elements up so that ``x * element_size`` is a multiple of 16 bytes.

    Args:
        x: number of elements (for instance the rows of a column-major scale tensor).
        element_size: bytes per element; must divide 16 (1, 2, 4, 8 or 16).
    """
    if element_size <= 0 or _TMA_ALIGNMENT_BYTES % element_size != 0:
        raise ValueError(
            f"get_tma_aligned_size: element_size must divide {_TMA_ALIGNMENT_BYTES} "
            f"(1, 2, 4, 8 or 16), got {element_size}"
        )
    return align(x, _TMA_ALIGNMENT_BYTES // element_size)


def get_m_alignment_for_contiguous_layout() -> int:
    """Row alignment of each group in the grouped-contiguous layout (128)."""
    return 128


def _canonical_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of the canonical column-major layout for ``[M, Kb]`` or ``[G, M, Kb]``."""
    m, kb = shape[-2], shape[-1]
    aligned_m = get_tma_aligned_size(m, 4)
    if len(shape) == 2:
        return (1, aligned_m)
    return (aligned_m * kb, 1, aligned_m)


def get_col_major_tma_aligned_tensor(s: torch.Tensor) -> torch.Tensor:
    """Return 1x128 scales in the canonical layout the kernels read without a copy.

    ``s`` is float32 ``[M, Kb]`` or ``[G, M, Kb]``. The result has the same values
    and strides ``(1, align(M, 4))`` (2D) or ``(align(M, 4) * Kb, 1, align(M, 4))``
    (3D): column-major per group, the leading dimension padded so that each column
    starts on a 16-byte boundary. Padding rows are zero. If ``s`` already has that
    layout it is returned as is.
    """
    if not isinstance(s, torch.Tensor):
        raise TypeError(
            f"get_col_major_tma_aligned_tensor: s must be a torch.Tensor, got {type(s).__name__}"
        )
    if s.dim() not in (2, 3):
        raise ValueError(
            "get_col_major_tma_aligned_tensor: s must be 2D [M, Kb] or 3D [G, M, Kb], "
            f"got {s.dim()}D with shape {list(s.shape)}"
        )
    if s.dtype != torch.float32:
        raise ValueError(
            f"get_col_major_tma_aligned_tensor: s must be float32, got {s.dtype}"
        )

    strides = _canonical_strides(tuple(s.shape))
    if tuple(s.stride()) == strides:
        return s
    if s.numel() == 0:
        return torch.empty_strided(tuple(s.shape), strides, dtype=s.dtype, device=s.device)

    m = s.shape[-2]
    aligned_m = get_tma_aligned_size(m, 4)
    t = s.transpose(-1, -2)  # [..., Kb, M]
    if aligned_m != m:
        t = F.pad(t, (0, aligned_m - m))
    # Row-major [..., Kb, aligned_m] with exactly these strides is the canonical
    # storage. Compare strides, not is_contiguous(): that ignores size-1 dims.
    kb = s.shape[-1]
    row_major = (kb * aligned_m, aligned_m, 1)[-t.dim():]
    if tuple(t.stride()) != row_major:
        t = t.clone(memory_format=torch.contiguous_format)
    return t.transpose(-1, -2)[..., :m, :]
