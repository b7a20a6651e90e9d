"""Fake (meta) kernels: output shape, dtype and device of every op, for FakeTensorMode,
torch.compile and torch.export. They apply the argument rules that need no data."""

from __future__ import annotations

from typing import Optional

import torch

from . import _checks


@torch.library.register_fake("fp8gemm::gemm_nt")
def _gemm_nt_fake(a, sa, b, sb, out_dtype: Optional[torch.dtype] = None):
    dtype = _checks.check_out_dtype("gemm_nt", out_dtype)
    m, n, _ = _checks.check_dense("gemm_nt", a, sa, b, sb)
    return a.new_empty((m, n), dtype=dtype)


@torch.library.register_fake("fp8gemm::gemm_nt_out")
def _gemm_nt_out_fake(a, sa, b, sb, out, accumulate: bool = False):
    m, n, _ = _checks.check_dense("gemm_nt_out", a, sa, b, sb)
    _checks.check_out("gemm_nt_out", out, a, m, n, accumulate)
    return None


def _contiguous(op, a, sa, b, sb, m_indices):
    m, _, n, _ = _checks.check_grouped(op, a, sa, b, sb, 2)
    _checks.check_index(op, "m_indices", m_indices, a, m, "[M]")
    return m, n


def _masked(op, a, sa, b, sb, masked_m):
    mmax, g, n, _ = _checks.check_grouped(op, a, sa, b, sb, 3)
    _checks.check_group_limit(op, g)
    _checks.check_index(op, "masked_m", masked_m, a, g, "[G]")
    return g, mmax, n


def _offset(op, a, sa, b, sb, offsets):
    m, g, n, _ = _checks.check_grouped(op, a, sa, b, sb, 2)
    _checks.check_group_limit(op, g)
    _checks.check_index(op, "offsets", offsets, a, g + 1, "[G + 1]", allow_int64=True)
    return m, n


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_contiguous")
def _contiguous_fake(a, sa, b, sb, m_indices):
    m, n = _contiguous("m_grouped_gemm_nt_contiguous", a, sa, b, sb, m_indices)
    return a.new_empty((m, n), dtype=torch.bfloat16)


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_contiguous_out")
def _contiguous_out_fake(a, sa, b, sb, m_indices, out):
    op = "m_grouped_gemm_nt_contiguous_out"
    m, n = _contiguous(op, a, sa, b, sb, m_indices)
    _checks.check_typed_out(op, out, a, [m, n], "[M, N]", torch.bfloat16)


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_masked")
def _masked_fake(a, sa, b, sb, masked_m, expected_m: int = 0):
    g, mmax, n = _masked("m_grouped_gemm_nt_masked", a, sa, b, sb, masked_m)
    return a.new_empty((g, mmax, n), dtype=torch.bfloat16)


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_masked_out")
def _masked_out_fake(a, sa, b, sb, masked_m, out, expected_m: int = 0):
    op = "m_grouped_gemm_nt_masked_out"
    g, mmax, n = _masked(op, a, sa, b, sb, masked_m)
    _checks.check_typed_out(op, out, a, [g, mmax, n], "[G, Mmax, N]", torch.bfloat16)


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_offset")
def _offset_fake(a, sa, b, sb, offsets, expected_m: int = 0):
    m, n = _offset("m_grouped_gemm_nt_offset", a, sa, b, sb, offsets)
    return a.new_empty((m, n), dtype=torch.bfloat16)


@torch.library.register_fake("fp8gemm::m_grouped_gemm_nt_offset_out")
def _offset_out_fake(a, sa, b, sb, offsets, out, expected_m: int = 0):
    op = "m_grouped_gemm_nt_offset_out"
    m, n = _offset(op, a, sa, b, sb, offsets)
    _checks.check_typed_out(op, out, a, [m, n], "[M, N]", torch.bfloat16)


@torch.library.register_fake("fp8gemm::wgrad_gemm_nt")
def _wgrad_fake(a, sa, b, sb):
    m, n, _ = _checks.check_wgrad("wgrad_gemm_nt", a, sa, b, sb)
    return a.new_empty((m, n), dtype=torch.float32)


@torch.library.register_fake("fp8gemm::wgrad_gemm_nt_out")
def _wgrad_out_fake(a, sa, b, sb, out):
    op = "wgrad_gemm_nt_out"
    m, n, _ = _checks.check_wgrad(op, a, sa, b, sb)
    _checks.check_typed_out(op, out, a, [m, n], "[M, N]", torch.float32)


@torch.library.register_fake("fp8gemm::k_grouped_wgrad_gemm_nt")
def _k_grouped_wgrad_fake(a, sa, b, sb, ks):
    g, m, n, _ = _checks.check_k_grouped_wgrad("k_grouped_wgrad_gemm_nt", a, sa, b, sb, ks)
    return a.new_empty((g, m, n), dtype=torch.float32)


@torch.library.register_fake("fp8gemm::k_grouped_wgrad_gemm_nt_out")
def _k_grouped_wgrad_out_fake(a, sa, b, sb, ks, out):
    op = "k_grouped_wgrad_gemm_nt_out"
    g, m, n, _ = _checks.check_k_grouped_wgrad(op, a, sa, b, sb, ks)
    _checks.check_typed_out(op, out, a, [g, m, n], "[G, M, N]", torch.float32)
