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
