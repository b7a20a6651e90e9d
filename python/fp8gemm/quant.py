"""FP8 (e4m3fn) quantization with 1x128 and 128x128 float32 scales, in plain torch.

The cast helpers trace in ``torch.compile(fullgraph=True)``; the dequantize helpers
return float64 and serve as the tests' independent reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .utils import ceil_div, get_col_major_tma_aligned_tensor

__all__ = [
    "FP8_MAX",
    "per_token_cast_to_fp8",
    "per_block_cast_to_fp8",
    "k_grouped_cast_to_fp8",
    "dequantize_1x128",
    "dequantize_128x128",
]

FP8_DTYPE = torch.float8_e4m3fn
FP8_MAX = 448.0
BLOCK = 128
# A block whose largest magnitude is below this still gets a positive, finite scale,
# so an all-zero block quantizes to zeros instead of 0/0 = NaN.
AMAX_FLOOR = 1e-4

_INPUT_DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def _check_input(name: str, arg: str, x: torch.Tensor, row_dim: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: {arg} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (2, 3):
        raise ValueError(
            f"{name}: {arg} must be 2D [{row_dim}, K] or 3D [G, {row_dim}, K], "
            f"got {x.dim()}D with shape {list(x.shape)}"
        )
    if x.dtype not in _INPUT_DTYPES:
        raise ValueError(f"{name}: {arg} must be bfloat16, float16 or float32, got {x.dtype}")
    if x.shape[-1] % 16 != 0:
        raise ValueError(
            f"{name}: {arg}.shape[-1] (K) must be a multiple of 16, got K = {x.shape[-1]}"
        )


def _to_fp8(x: torch.Tensor) -> torch.Tensor:
    # Clamp first: x / scale can land a rounding step above 448, and the CUDA cast
    # does not saturate.
    return x.clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)


def per_token_cast_to_fp8(
    x: torch.Tensor, layout: str = "canonical"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize activations to FP8 with one scale per row and 128-column block.

    Args:
        x: ``[M, K]`` or ``[G, M, K]``, bfloat16/float16/float32, ``K % 16 == 0``
            (K need not be a multiple of 128; the last block may be partial).
        layout: ``"canonical"`` (column-major, leading dimension ``align(M, 4)``,
            see :func:`fp8gemm.utils.get_col_major_tma_aligned_tensor`) or
            ``"row_major"`` (contiguous ``[..., M, Kb]``).

    Returns:
        ``(q, sa)``: ``q`` float8_e4m3fn with the shape of ``x``, contiguous;
        ``sa`` float32 ``[..., M, ceil(K / 128)]`` with
        ``sa = max(amax(|block|), 1e-4) / 448`` and ``q ~= x / sa``.
    """
    name = "per_token_cast_to_fp8"
    _check_input(name, "x", x, "M")
    if layout not in ("canonical", "row_major"):
        raise ValueError(f"{name}: layout must be 'canonical' or 'row_major', got {layout!r}")

    k = x.shape[-1]
    kb = ceil_div(k, BLOCK)
    xf = x.float()
    if kb * BLOCK != k:
        xf = F.pad(xf, (0, kb * BLOCK - k))
    blocks = xf.unflatten(-1, (kb, BLOCK))  # [..., M, Kb, 128]
    amax = blocks.abs().amax(dim=-1).clamp(min=AMAX_FLOOR)  # [..., M, Kb]
    scale = amax / FP8_MAX
    q = _to_fp8(blocks / scale.unsqueeze(-1)).flatten(-2)
    if kb * BLOCK != k:
        q = q[..., :k]
    q = q.contiguous()
    if layout == "canonical":
        return q, get_col_major_tma_aligned_tensor(scale)
    return q, scale.contiguous()


def per_block_cast_to_fp8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize weights to FP8 with one scale per 128x128 block.

    Args:
        w: ``[N, K]`` or ``[G, N, K]``, bfloat16/float16/float32, ``K % 16 == 0``;
            N and K need not be multiples of 128.

    Returns:
        ``(q, sb)``: ``q`` float8_e4m3fn with the shape of ``w``, contiguous;
        ``sb`` float32 ``[..., ceil(N / 128), ceil(K / 128)]`` contiguous, with
        ``sb = max(amax(|block|), 1e-4) / 448``.
    """
    name = "per_block_cast_to_fp8"
    _check_input(name, "w", w, "N")

    n, k = w.shape[-2], w.shape[-1]
    nb, kb = ceil_div(n, BLOCK), ceil_div(k, BLOCK)
    wf = w.float()
    if nb * BLOCK != n or kb * BLOCK != k:
        wf = F.pad(wf, (0, kb * BLOCK - k, 0, nb * BLOCK - n))
    blocks = wf.unflatten(-1, (kb, BLOCK)).unflatten(-3, (nb, BLOCK))  # [.., Nb, 128, Kb, 128]
    amax = blocks.abs().amax(dim=(-3, -1)).clamp(min=AMAX_FLOOR)  # [..., Nb, Kb]
    scale = amax / FP8_MAX
    q = _to_fp8(blocks / scale.unsqueeze(-1).unsqueeze(-3))
    q = q.flatten(-2).flatten(-3, -2)  # [..., Nb*128, Kb*128]
    q = q[..., :n, :k].contiguous()
    return q, scale.contiguous()


def _check_dequant(name: str, q: torch.Tensor, s: torch.Tensor, expected: tuple[int, ...], what: str) -> None:
    if q.dim() < 2:
        raise ValueError(f"{name}: q must be at least 2D, got shape {list(q.shape)}")
    if tuple(s.shape) != expected:
        raise ValueError(f"{name}: scales must have shape {what} = {list(expected)}, got {list(s.shape)}")


def dequantize_1x128(q: torch.Tensor, sa: torch.Tensor) -> torch.Tensor:
    """Float64 ``q[..., m, k] * sa[..., m, k // 128]`` for any layout of ``sa``.

    Args:
        q: FP8 (or any float) ``[..., M, K]``.
        sa: ``[..., M, ceil(K / 128)]``.
    """
    k = q.shape[-1]
    _check_dequant("dequantize_1x128", q, sa, (*q.shape[:-1], ceil_div(k, BLOCK)), "[..., M, ceil(K/128)]")
    s = sa.double().repeat_interleave(BLOCK, dim=-1)[..., :k]
    return q.double() * s


def dequantize_128x128(q: torch.Tensor, sb: torch.Tensor) -> torch.Tensor:
    """Float64 ``q[..., n, k] * sb[..., n // 128, k // 128]`` for any layout of ``sb``.

    Args:
        q: FP8 (or any float) ``[..., N, K]``.
        sb: ``[..., ceil(N / 128), ceil(K / 128)]``.
    """
    n, k = q.shape[-2], q.shape[-1]
    expected = (*q.shape[:-2], ceil_div(n, BLOCK), ceil_div(k, BLOCK))
    _check_dequant("dequantize_128x128", q, sb, expected, "[..., ceil(N/128), ceil(K/128)]")
    s = sb.double().repeat_interleave(BLOCK, dim=-2).repeat_interleave(BLOCK, dim=-1)
    return q.double() * s[..., :n, :k]


def k_grouped_cast_to_fp8(xs: "list[torch.Tensor] | tuple[torch.Tensor, ...]") -> tuple[torch.Tensor, torch.Tensor]:
    """Quantize the groups of a k-grouped weight-gradient operand, 1x128 along K.

    Args:
        xs: G tensors ``[R, K_g]`` (bfloat16/float16/float32, one R for all, every
            ``K_g % 16 == 0``, ``K_g == 0`` allowed), e.g. each expert's ``dY^T`` or ``X^T``.

    Returns:
        ``(q, s)`` in the layout of ``fp8gemm.k_grouped_wgrad_gemm_nt``: ``q`` 1-D
        float8_e4m3fn, the row-major ``[R, K_g]`` blocks concatenated (``R * sum(K_g)``
        elements); ``s`` float32 ``[sum_g ceil(K_g/128), R]``, contiguous, each group's
        ``[R, Kb_g]`` scales transposed (K-block-major) and stacked.
    """
    name = "k_grouped_cast_to_fp8"
    if not isinstance(xs, (list, tuple)) or not xs:
        raise ValueError(f"{name}: xs must be a non-empty list of [R, K_g] tensors, got {type(xs).__name__}")
    rows = xs[0].shape[0] if xs[0].dim() == 2 else None
    qs, ss = [], []
    for g, x in enumerate(xs):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise ValueError(f"{name}: xs[{g}] must be a 2-D [R, K_g] tensor, got {getattr(x, 'shape', x)!r}")
        if x.shape[0] != rows:
            raise ValueError(f"{name}: every group must have R = {rows} rows, got xs[{g}] with {x.shape[0]}")
        if x.shape[1] == 0:
            continue
        _check_input(name, f"xs[{g}]", x, "R")
        q, sc = per_token_cast_to_fp8(x, layout="row_major")  # [R, K_g], [R, Kb_g]
        qs.append(q.flatten())
        ss.append(sc.t())
    device = xs[0].device
    q = torch.cat(qs) if qs else torch.empty(0, dtype=FP8_DTYPE, device=device)
    s = torch.cat(ss).contiguous() if ss else torch.empty(0, rows, dtype=torch.float32, device=device)
    return q, s
