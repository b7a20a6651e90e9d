"""DeepGEMM's v1 API on fp8gemm: existing integrations switch by changing one import,

    import fp8gemm.compat.deep_gemm as deep_gemm

The functions take DeepGEMM's arguments (``(tensor, scales)`` tuples, ``out`` written in
place) and call fp8gemm's AOT-compiled ops: no JIT, no cache, usable under
``torch.compile`` and CUDA-graph capture. Scale layouts as in DeepGEMM: the 1x128 scales
of ``lhs`` in any layout (the TMA-aligned column-major one is the fast path), the 128x128
scales of ``rhs`` ``[ceil(N/128), ceil(K/128)]`` (per group for the grouped functions).

Not mapped yet: ``wgrad_gemm_fp8_fp8_fp32_nt`` and ``k_grouped_wgrad_gemm_fp8_fp8_fp32_nt``
(fp8gemm's weight-gradient ops are not built yet); calling them raises AttributeError.
"""

from __future__ import annotations

from typing import List, Tuple, Union

import torch

from .. import (
    gemm_nt_out,
    get_col_major_tma_aligned_tensor,
    get_m_alignment_for_contiguous_layout,
    get_num_sms,
    get_tma_aligned_size,
    m_grouped_gemm_nt_contiguous_out,
    k_grouped_wgrad_gemm_nt_out,
    m_grouped_gemm_nt_masked_out,
    set_num_sms,
    wgrad_gemm_nt_out,
)
from ..utils import ceil_div

__all__ = [
    "gemm_fp8_fp8_bf16_nt",
    "m_grouped_gemm_fp8_fp8_bf16_nt_contiguous",
    "m_grouped_gemm_fp8_fp8_bf16_nt_masked",
    "wgrad_gemm_fp8_fp8_fp32_nt",
    "k_grouped_wgrad_gemm_fp8_fp8_fp32_nt",
    "get_num_sms",
    "set_num_sms",
    "get_m_alignment_for_contiguous_layout",
    "get_tma_aligned_size",
    "get_col_major_tma_aligned_tensor",
    "ceil_div",
]

Pair = Tuple[torch.Tensor, torch.Tensor]


def _pair(name: str, value: Pair) -> Pair:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"deep_gemm compat: {name} must be a (tensor, scales) pair, got {type(value).__name__}")
    return value[0], value[1]


def gemm_fp8_fp8_bf16_nt(lhs: Pair, rhs: Pair, out: torch.Tensor) -> None:
    """``out = lhs @ rhs.T`` (bf16): lhs ``([M, K] e4m3, [M, ceil(K/128)] fp32)``,
    rhs ``([N, K] e4m3, [ceil(N/128), ceil(K/128)] fp32)``, out ``[M, N]`` bf16."""
    a, sa = _pair("lhs", lhs)
    b, sb = _pair("rhs", rhs)
    gemm_nt_out(a, sa, b, sb, out)


def m_grouped_gemm_fp8_fp8_bf16_nt_contiguous(lhs: Pair, rhs: Pair, out: torch.Tensor, m_indices: torch.Tensor) -> None:
    """Grouped GEMM, contiguous layout: lhs ``([M, K], [M, ceil(K/128)])``, rhs
    ``([G, N, K], [G, ceil(N/128), ceil(K/128)])``, m_indices int32 ``[M]`` (-1: padding)."""
    a, sa = _pair("lhs", lhs)
    b, sb = _pair("rhs", rhs)
    m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, m_indices, out)


def m_grouped_gemm_fp8_fp8_bf16_nt_masked(
    lhs: Pair, rhs: Pair, out: torch.Tensor, masked_m: torch.Tensor, expected_m: int
) -> None:
    """Grouped GEMM, masked layout: lhs ``([G, Mmax, K], [G, Mmax, ceil(K/128)])``, rhs
    ``([G, N, K], [G, ceil(N/128), ceil(K/128)])``, masked_m int32 ``[G]``, out
    ``[G, Mmax, N]`` bf16 (rows past ``masked_m[g]`` left as they were)."""
    a, sa = _pair("lhs", lhs)
    b, sb = _pair("rhs", rhs)
    m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, int(expected_m))


def wgrad_gemm_fp8_fp8_fp32_nt(lhs: Pair, rhs: Pair, out: torch.Tensor) -> None:
    """Weight gradient, accumulated: ``out += lhs @ rhs.T`` in fp32. lhs ``([M, K] e4m3,
    [M, ceil(K/128)] fp32)``, rhs ``([N, K] e4m3, [N, ceil(K/128)] fp32)`` (1x128 scales on
    both sides), out ``[M, N]`` fp32 contiguous."""
    a, sa = _pair("lhs", lhs)
    b, sb = _pair("rhs", rhs)
    wgrad_gemm_nt_out(a, sa, b, sb, out)


def k_grouped_wgrad_gemm_fp8_fp8_fp32_nt(
    lhs: Pair, rhs: Pair, out: torch.Tensor, batch_sizes: Union[List[int], torch.Tensor]
) -> None:
    """K-grouped weight gradient, accumulated: ``out[g] += lhs_g @ rhs_g.T`` in fp32 for every
    group, in one launch. lhs ``(flat e4m3 [sum(M * K_g)], [sum ceil(K_g/128), M] fp32)``, rhs
    ``(flat e4m3 [sum(N * K_g)], [sum ceil(K_g/128), N] fp32)``, out ``[G, M, N]`` fp32,
    batch_sizes the K_g (a list, or an int32 tensor on the device: no host synchronisation)."""
    a, sa = _pair("lhs", lhs)
    b, sb = _pair("rhs", rhs)
    k_grouped_wgrad_gemm_nt_out(a.reshape(-1), sa, b.reshape(-1), sb, batch_sizes, out)
