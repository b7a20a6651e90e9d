"""fp8gemm: ahead-of-time compiled FP8 GEMMs with DeepSeek-V3-style fine-grained scaling
for NVIDIA Hopper, registered as `torch.ops.fp8gemm.*` custom ops.

The functions here are thin wrappers: the ops themselves (checks, config selection,
launch) live in the native library; fake kernels make them traceable.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Union

import torch

from . import _checks, _native, quant
from ._version import __version__
from .utils import (
    get_col_major_tma_aligned_tensor,
    get_m_alignment_for_contiguous_layout,
    get_tma_aligned_size,
)

if _native.is_loaded():
    from . import _fake  # noqa: F401  (registers the fake kernels)

_lib_path = str(_native.LIB_PATH)

__all__ = [
    "__version__",
    "gemm_nt",
    "gemm_nt_out",
    "m_grouped_gemm_nt_contiguous",
    "m_grouped_gemm_nt_contiguous_out",
    "m_grouped_gemm_nt_masked",
    "m_grouped_gemm_nt_masked_out",
    "m_grouped_gemm_nt_offset",
    "m_grouped_gemm_nt_offset_out",
    "wgrad_gemm_nt",
    "wgrad_gemm_nt_out",
    "k_grouped_wgrad_gemm_nt",
    "k_grouped_wgrad_gemm_nt_out",
    "select_config",
    "set_num_sms",
    "set_batch_invariant",
    "set_pdl",
    "get_pdl",
    "set_swap_ab",
    "get_swap_ab",
    "get_batch_invariant",
    "get_num_sms",
    "get_m_alignment_for_contiguous_layout",
    "get_tma_aligned_size",
    "get_col_major_tma_aligned_tensor",
    "quant",
]


def gemm_nt(
    a: torch.Tensor,
    sa: torch.Tensor,
    b: torch.Tensor,
    sb: torch.Tensor,
    out_dtype: torch.dtype = torch.bfloat16,
) -> torch.Tensor:
    """FP8 GEMM with fine-grained scaling: `(a * sa) @ (b * sb).T`.

    a: `[M, K]` float8_e4m3fn, K-contiguous; sa: `[M, ceil(K/128)]` float32, 1x128 scales
    (the canonical column-major layout, see `get_col_major_tma_aligned_tensor`, is used
    as is; row-major `[M, Kb]` with 16-byte-aligned rows is read in place by the decode-size
    swap-AB kernels where that measured fast (see the README); any other layout is copied
    into the canonical one first). b: `[N, K]` float8_e4m3fn; sb: `[ceil(N/128), ceil(K/128)]`
    float32, 128x128 block scales, any strides. K % 16 == 0, N % 8 == 0, any M >= 0.
    Returns `[M, N]` in `out_dtype` (bfloat16 or float32), accumulated in fp32.
    """
    return torch.ops.fp8gemm.gemm_nt.default(a, sa, b, sb, out_dtype)


def gemm_nt_out(
    a: torch.Tensor,
    sa: torch.Tensor,
    b: torch.Tensor,
    sb: torch.Tensor,
    out: torch.Tensor,
    accumulate: bool = False,
) -> None:
    """Like `gemm_nt`, written into `out` (`[M, N]` contiguous bfloat16 or float32).

    With `accumulate=True` (float32 `out` only) computes `out += product`: `out` is read
    once and written once, in fp32.
    """
    torch.ops.fp8gemm.gemm_nt_out.default(a, sa, b, sb, out, accumulate)


_GROUPED_ARGS = """
    b: `[G, N, K]` float8_e4m3fn (groups stacked without gaps), one weight per group;
    sb: `[G, ceil(N/128), ceil(K/128)]` float32 128x128 block scales, any strides.
    K % 16 == 0, N % 8 == 0. Accumulated in fp32, written as bfloat16."""


def m_grouped_gemm_nt_contiguous(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, m_indices: torch.Tensor
) -> torch.Tensor:
    """MoE grouped GEMM, contiguous layout (prefill, training): row r of `a` is multiplied
    by the weight of group `m_indices[r]`.

    a: `[M, K]` float8_e4m3fn, the groups' rows concatenated, each group starting at a
    multiple of `get_m_alignment_for_contiguous_layout()` (128); sa: `[M, ceil(K/128)]`
    1x128 scales (canonical layout as for `gemm_nt`); m_indices: int32 `[M]` on the device,
    the group of each row, -1 for padding rows. A 128-row block takes the group of its first
    row; blocks whose first row is padding (or names no group) are skipped.{args}
    Returns `[M, N]`; padding rows are unspecified.
    """
    return torch.ops.fp8gemm.m_grouped_gemm_nt_contiguous.default(a, sa, b, sb, m_indices)


def m_grouped_gemm_nt_contiguous_out(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, m_indices: torch.Tensor,
    out: torch.Tensor,
) -> None:
    """`m_grouped_gemm_nt_contiguous` written into `out` (`[M, N]` contiguous bfloat16);
    padding rows of `out` are left unspecified."""
    torch.ops.fp8gemm.m_grouped_gemm_nt_contiguous_out.default(a, sa, b, sb, m_indices, out)


def m_grouped_gemm_nt_masked(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, masked_m: torch.Tensor,
    expected_m: int = 0,
) -> torch.Tensor:
    """MoE grouped GEMM, masked layout (decode under CUDA graphs): group g multiplies its
    first `masked_m[g]` rows of `a[g]` by its weight; the host never reads the counts.

    a: `[G, Mmax, K]` float8_e4m3fn (any Mmax >= 1); sa: `[G, Mmax, ceil(K/128)]` 1x128
    scales (canonical: each group column-major with leading dimension align(Mmax, 4));
    masked_m: int32 `[G]` on the device, clamped into [0, Mmax]; expected_m: a hint of the
    typical rows per group for the config choice (0: Mmax).{args}
    Returns `[G, Mmax, N]`; rows at or past `masked_m[g]` are unspecified.
    """
    return torch.ops.fp8gemm.m_grouped_gemm_nt_masked.default(a, sa, b, sb, masked_m, int(expected_m))


def m_grouped_gemm_nt_masked_out(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, masked_m: torch.Tensor,
    out: torch.Tensor, expected_m: int = 0,
) -> None:
    """`m_grouped_gemm_nt_masked` written into `out` (`[G, Mmax, N]` contiguous bfloat16);
    only rows below `masked_m[g]` of each group are written."""
    torch.ops.fp8gemm.m_grouped_gemm_nt_masked_out.default(a, sa, b, sb, masked_m, out, int(expected_m))


def m_grouped_gemm_nt_offset(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, offsets: torch.Tensor,
    expected_m: int = 0,
) -> torch.Tensor:
    """MoE grouped GEMM, offset layout (TensorRT-LLM's): tokens sorted by group with no
    padding; rows `[offsets[g], offsets[g+1])` belong to group g.

    a: `[M, K]` float8_e4m3fn; sa: `[M, ceil(K/128)]` 1x128 scales; offsets: int32 or int64
    `[G + 1]` on the device, `offsets[0] = 0`, non-decreasing, `offsets[G] = M` (values are
    clamped into [0, M] and made non-decreasing on the device; no row outside a group is
    written); expected_m: a hint of the typical rows per group (0: M / G).{args}
    Returns `[M, N]`.
    """
    return torch.ops.fp8gemm.m_grouped_gemm_nt_offset.default(a, sa, b, sb, offsets, int(expected_m))


def m_grouped_gemm_nt_offset_out(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, offsets: torch.Tensor,
    out: torch.Tensor, expected_m: int = 0,
) -> None:
    """`m_grouped_gemm_nt_offset` written into `out` (`[M, N]` contiguous bfloat16); rows
    outside every group are left untouched."""
    torch.ops.fp8gemm.m_grouped_gemm_nt_offset_out.default(a, sa, b, sb, offsets, out, int(expected_m))


for _f in (m_grouped_gemm_nt_contiguous, m_grouped_gemm_nt_masked, m_grouped_gemm_nt_offset):
    _f.__doc__ = _f.__doc__.replace("{args}", _GROUPED_ARGS)
del _f

# ---------------------------------------------------------------- weight gradients (1D1D)


def wgrad_gemm_nt(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> torch.Tensor:
    """Weight-gradient FP8 GEMM, both operands scaled 1x128 along K: `(a * sa) @ (b * sb).T`
    in float32.

    a: `[M, K]` float8_e4m3fn (e.g. dY^T), K-contiguous; sa: `[M, ceil(K/128)]` float32;
    b: `[N, K]` float8_e4m3fn (e.g. X^T); sb: `[N, ceil(K/128)]` float32. Both scale sets in
    the canonical layout of `get_col_major_tma_aligned_tensor` are used as they are; any other
    layout is copied into it first. K % 16 == 0 (the last K block may be partial),
    N % 8 == 0, any M >= 0. Returns a new `[M, N]` float32 tensor.
    """
    return torch.ops.fp8gemm.wgrad_gemm_nt.default(a, sa, b, sb)


def wgrad_gemm_nt_out(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, out: torch.Tensor) -> None:
    """`out += wgrad_gemm_nt(a, sa, b, sb)` in float32, in one kernel: `out` (`[M, N]`
    contiguous float32, the gradient accumulator) is read once and written once."""
    torch.ops.fp8gemm.wgrad_gemm_nt_out.default(a, sa, b, sb, out)


Ks = Union[torch.Tensor, Sequence[int]]


def _ks_tensor(op: str, ks: Ks, a: torch.Tensor, sa: torch.Tensor) -> torch.Tensor:
    """ks as the op takes it: an int32 tensor on a's device (a list is checked on the host,
    then copied: outside CUDA-graph capture only)."""
    if isinstance(ks, torch.Tensor):
        return ks
    if not isinstance(ks, (list, tuple)):
        raise TypeError(f"fp8gemm.{op}: ks must be an int32 tensor or a list of ints, got {type(ks).__name__}")
    if sa.dim() == 2:  # otherwise the op's own checks name the problem with sa
        _checks.check_ks_list(op, ks, sa.shape[1], a.numel(), sa.shape[0])
    return torch.tensor(list(ks), dtype=torch.int32, device=a.device)


_K_GROUPED_ARGS = """
    Group g (of G = len(ks)) multiplies the row-major `[M, K_g]` block of `a` that starts at
    element `M * sum(ks[:g])` by the transpose of the `[N, K_g]` block of `b` at `N * sum(ks[:g])`.
    a: 1-D float8_e4m3fn, `M * sum(ks)` elements; b: 1-D float8_e4m3fn, `N * sum(ks)`;
    sa: `[sum_g ceil(K_g/128), M]` float32, the groups' K-block-major 1x128 scales stacked
    (rows 16-byte aligned is the fast path: M % 4 == 0 when contiguous; other layouts are
    copied); sb: `[sum_g ceil(K_g/128), N]` float32 likewise.
    ks: int32 tensor `[G]` on the device (read only by the kernel: no host synchronisation,
    capturable in a CUDA graph; values are clamped on the device, never trusted as
    addresses) or a list of ints (checked on the host, then copied to the device). Every
    K_g % 16 == 0; K_g == 0 and K_g not a multiple of 128 are allowed. One launch for all
    groups. N % 8 == 0."""


def k_grouped_wgrad_gemm_nt(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, ks: Ks) -> torch.Tensor:
    """K-grouped weight-gradient GEMM (MoE: one weight gradient per expert, with a different
    token count K_g per expert), both operands scaled 1x128 along K.{args}
    Returns a new `[G, M, N]` float32 tensor (zeros for empty groups).
    """
    op = "k_grouped_wgrad_gemm_nt"
    return torch.ops.fp8gemm.k_grouped_wgrad_gemm_nt.default(a, sa, b, sb, _ks_tensor(op, ks, a, sa))


def k_grouped_wgrad_gemm_nt_out(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, ks: Ks, out: torch.Tensor
) -> None:
    """`out[g] += product of group g` for every group, in float32, in one kernel: `out`
    (`[G, M, N]` contiguous float32) is read once and written once; empty groups leave
    their `out[g]` unchanged.{args}
    """
    op = "k_grouped_wgrad_gemm_nt_out"
    torch.ops.fp8gemm.k_grouped_wgrad_gemm_nt_out.default(a, sa, b, sb, _ks_tensor(op, ks, a, sa), out)


for _f in (k_grouped_wgrad_gemm_nt, k_grouped_wgrad_gemm_nt_out):
    _f.__doc__ = _f.__doc__.replace("{args}", _K_GROUPED_ARGS)
del _f

_MULTICAST = {0: "none", 1: "a", 2: "b"}


def select_config(
    kind: str,
    m: int,
    n: int,
    k: int,
    num_groups: int = 1,
    num_sms: int = 132,
    out_dtype: torch.dtype = torch.bfloat16,
    mem_bandwidth_gbs: int = 3352,
) -> Dict[str, Any]:
    """The kernel config the dispatcher would use for this problem, with no GPU needed.

    kind: an op name (`gemm_nt`, `m_grouped_gemm_nt_contiguous`, `..._masked`,
    `..._offset`, `wgrad_gemm_nt`, `k_grouped_wgrad_gemm_nt`, each also with `_out`). m: rows
    of a for gemm_nt and the contiguous layout; the expected rows per group for masked and
    offset (num_groups = G). For the weight-gradient ops m x n is the gradient's shape and k
    the K (tokens) of the dense op or the expected K per group (num_groups = G); their
    output is always float32 (out_dtype is ignored).
    Returns a dict: block_m, block_n, block_k, stages, multicast ("none" | "a" | "b"),
    cluster, smem_bytes, grid (CTAs launched), swap_ab, stream_k (the last round of tiles
    shared out over every SM by K ranges, partial sums added through a workspace). With swap_ab (gemm_nt at decode-sized
    M, see `set_swap_ab`) block_m is the token tile, block_n the weight rows per CTA and
    cluster the number of CTAs that split K.
    num_sms and mem_bandwidth_gbs describe the device; the defaults are an H100 SXM's (132 SMs,
    3352 GB/s peak memory bandwidth; an H200's is 4915). The dispatcher reads both from the
    device it runs on (the bandwidth as 2 x memory clock x bus width); the swap-AB K split
    depends on the bandwidth.
    """
    import ctypes

    vals = (ctypes.c_int * 10)()
    lib = _native.lib()
    rc = lib.fp8gemm_select_config(
        kind.encode(), int(m), int(n), int(k), int(num_groups), int(num_sms), int(out_dtype == torch.float32),
        int(mem_bandwidth_gbs), vals
    )
    if rc != 0:
        raise ValueError(lib.fp8gemm_last_error().decode())
    keys = ("block_m", "block_n", "block_k", "stages", "multicast", "cluster", "smem_bytes", "grid", "swap_ab",
            "stream_k")
    cfg: Dict[str, Any] = dict(zip(keys, list(vals)))
    cfg["multicast"] = _MULTICAST[cfg["multicast"]]
    cfg["swap_ab"] = bool(cfg["swap_ab"])
    cfg["stream_k"] = bool(cfg["stream_k"])
    return cfg


def set_num_sms(n: Optional[int]) -> None:
    """Limit the SMs the kernels use (e.g. to overlap with communication); None or 0 lifts it."""
    if n is not None and (not isinstance(n, int) or n < 0):
        raise ValueError(f"fp8gemm.set_num_sms: n must be a non-negative int or None, got {n!r}")
    _native.lib().fp8gemm_set_num_sms(int(n or 0))


def set_batch_invariant(on: bool) -> None:
    """Batch-invariant mode: a row's result does not depend on M or on the other rows.

    The 1D2D kernels reduce K for an output element in one fixed order (no split of K
    across CTAs), so their results are bitwise identical across configs, M and batch
    composition; the mode keeps every call on them: the swap-AB decode kernels (split K,
    another order; see `set_swap_ab`) stand aside while it is on. Process-wide.
    """
    if not isinstance(on, bool):
        raise TypeError(f"fp8gemm.set_batch_invariant: on must be a bool, got {type(on).__name__}")
    _native.lib().fp8gemm_set_batch_invariant(int(on))


def set_pdl(on: bool) -> None:
    """Programmatic dependent launch (opt-in, process-wide; off by default).

    When on, every fp8gemm kernel is launched so that its prologue (CTA launch, shared-memory
    set-up, barrier init, tensor-map prefetch) overlaps the tail of the previous kernel in the
    stream, and it lets the next kernel start its own prologue early. Each kernel still waits
    for the previous one to finish before it touches memory, so results are unchanged. Works
    in eager mode and inside CUDA graphs (captured as programmatic edges); the gain is a few
    microseconds per kernel boundary, which matters in decode loops.
    """
    if not isinstance(on, bool):
        raise TypeError(f"fp8gemm.set_pdl: on must be a bool, got {type(on).__name__}")
    _native.lib().fp8gemm_set_pdl(int(on))


def set_swap_ab(on: bool) -> None:
    """Swap-AB kernels for `gemm_nt` at decode-sized M (on by default, process-wide).

    For M up to 64 tokens the dense op computes `D^T = B A^T`: the weights fill the tensor
    core's 64-row side and the tokens its narrow side (8..64), with K split across a
    thread-block cluster whose partial sums are added in a fixed order in distributed
    shared memory. Results are bitwise reproducible, but the summation order differs from
    the other kernels', so batch-invariant mode (`set_batch_invariant(True)`) does not use
    them; neither does a call under an SM limit (`set_num_sms`). Off: every dense call uses
    the 1D2D kernel (for before/after comparisons).
    """
    if not isinstance(on, bool):
        raise TypeError(f"fp8gemm.set_swap_ab: on must be a bool, got {type(on).__name__}")
    _native.lib().fp8gemm_set_swap_ab(int(on))


def get_swap_ab() -> bool:
    """Whether the swap-AB decode kernels are enabled."""
    return bool(_native.lib().fp8gemm_get_swap_ab())


def get_pdl() -> bool:
    """Whether programmatic dependent launch is on."""
    return bool(_native.lib().fp8gemm_get_pdl())


def get_batch_invariant() -> bool:
    """Whether batch-invariant mode is on."""
    return bool(_native.lib().fp8gemm_get_batch_invariant())


def get_num_sms() -> int:
    """SMs the kernels use on the current device: the limit if one is set, else all."""
    limit = _native.lib().fp8gemm_get_num_sms_limit()
    if torch.cuda.is_available():
        count = torch.cuda.get_device_properties(torch.cuda.current_device()).multi_processor_count
        return min(limit, count) if limit > 0 else count
    return limit


def kernel_grid() -> str:
    """The compiled kernel configs, one per line."""
    return _native.lib().fp8gemm_kernel_grid().decode()


def wgrad_kernel_grid() -> str:
    """The compiled weight-gradient (1D1D) kernel configs, one per line."""
    return _native.lib().fp8gemm_wgrad_kernel_grid().decode()


def swapab_kernel_grid() -> str:
    """The compiled swap-AB decode configs, one per line (line i is config index i)."""
    return _native.lib().fp8gemm_swapab_grid().decode()


if os.environ.get("FP8GEMM_PRINT_CONFIGS", "0") not in ("", "0") and not _native.is_loaded():
    print(f"fp8gemm: {_native.load_error}")
