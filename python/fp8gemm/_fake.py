"""Fake (meta) kernels: output shape, dtype and device of every op, for FakeTensorMode,
torch.compile and torch.export. They check what can be checked without data."""

from __future__ import annotations

from typing import Optional

import torch


def _ceil_div(a: int, b: int) -> int:
    return (a + b - 1) // b


def _check_dense(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> None:
    torch._check(a.dim() == 2, lambda: f"fp8gemm.{op}: a must be 2-D [M, K], got {a.dim()}-D")
    torch._check(b.dim() == 2, lambda: f"fp8gemm.{op}: b must be 2-D [N, K], got {b.dim()}-D")
    torch._check(a.dtype == torch.float8_e4m3fn, lambda: f"fp8gemm.{op}: a must be float8_e4m3fn, got {a.dtype}")
    torch._check(b.dtype == torch.float8_e4m3fn, lambda: f"fp8gemm.{op}: b must be float8_e4m3fn, got {b.dtype}")
    torch._check(sa.dtype == torch.float32, lambda: f"fp8gemm.{op}: sa must be float32, got {sa.dtype}")
    torch._check(sb.dtype == torch.float32, lambda: f"fp8gemm.{op}: sb must be float32, got {sb.dtype}")
    m, k = a.shape
    n = b.shape[0]
    torch._check(b.shape[1] == k, lambda: f"fp8gemm.{op}: b must be [N, K] with K = {k}, got {list(b.shape)}")
    kb = _ceil_div(k, 128)
    torch._check(
        list(sa.shape) == [m, kb], lambda: f"fp8gemm.{op}: sa must have shape [M, ceil(K/128)], got {list(sa.shape)}"
    )
    torch._check(
        list(sb.shape) == [_ceil_div(n, 128), kb],
        lambda: f"fp8gemm.{op}: sb must have shape [ceil(N/128), ceil(K/128)], got {list(sb.shape)}",
    )


@torch.library.register_fake("fp8gemm::gemm_nt")
def _gemm_nt_fake(a, sa, b, sb, out_dtype: Optional[torch.dtype] = None):
    _check_dense("gemm_nt", a, sa, b, sb)
    dtype = torch.bfloat16 if out_dtype is None else out_dtype
    torch._check(dtype in (torch.bfloat16, torch.float32), lambda: f"fp8gemm.gemm_nt: out_dtype must be bfloat16 or float32, got {dtype}")
    return a.new_empty((a.shape[0], b.shape[0]), dtype=dtype)


@torch.library.register_fake("fp8gemm::gemm_nt_out")
def _gemm_nt_out_fake(a, sa, b, sb, out, accumulate: bool = False):
    _check_dense("gemm_nt_out", a, sa, b, sb)
    torch._check(
        list(out.shape) == [a.shape[0], b.shape[0]],
        lambda: f"fp8gemm.gemm_nt_out: out must have shape [M, N], got {list(out.shape)}",
    )
    return None
