"""The argument rules of ../shared/SPEC.md as the fake kernels apply them (trace time, no
data). The native ops apply the same rules, with the same messages, before any launch;
tests/test_bad_inputs.py runs one table of cases against both."""

from __future__ import annotations

from typing import Optional, Sequence

import torch

_DTYPE_NAMES = {
    torch.float8_e4m3fn: "float8_e4m3fn",
    torch.float32: "float32",
    torch.bfloat16: "bfloat16",
    torch.float16: "float16",
    torch.int32: "int32",
    torch.int64: "int64",
    torch.float64: "float64",
    torch.float8_e5m2: "float8_e5m2",
}


def _name(dtype: torch.dtype) -> str:
    return _DTYPE_NAMES.get(dtype, "another dtype")


def _shape(s: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(x)) for x in s) + "]"


def _fail(op: str, msg: str) -> None:
    raise ValueError(f"fp8gemm.{op}: {msg}")


def _check_dtype(op: str, arg: str, t: torch.Tensor, want: torch.dtype) -> None:
    if t.dtype != want:
        _fail(op, f"{arg} must be {_name(want)}, got {_name(t.dtype)}")


def _check_fp8_operand(op: str, arg: str, t: torch.Tensor, dims: int = 2) -> None:
    """A [rows, K] (dims 2) or [G, rows, K] (dims 3) fp8 operand read by TMA."""
    _check_dtype(op, arg, t, torch.float8_e4m3fn)
    if t.dim() != dims:
        layout = "[rows, K]" if dims == 2 else "[G, rows, K]"
        _fail(op, f"{arg} must be {dims}-D {layout}, got {t.dim()}-D {_shape(t.shape)}")
    r = dims - 2  # the rows dimension
    rows, k = t.shape[r], t.shape[r + 1]
    if k % 16 != 0:
        _fail(op, f"K must be a multiple of 16, got {arg}.size({r + 1}) = K = {k}")
    if k > 1 and t.stride(r + 1) != 1:
        _fail(op, f"{arg} must be contiguous along K (stride({r + 1}) == 1), got strides {list(t.stride())}")
    row_stride = k if rows <= 1 else t.stride(r)
    if row_stride % 16 != 0 or row_stride < k:
        _fail(op, f"{arg} rows must be 16-byte aligned (stride({r}) a multiple of 16, >= K), got stride({r}) = {row_stride}")
    if dims == 3 and t.shape[0] > 1 and t.stride(0) != rows * row_stride:
        _fail(
            op,
            f"{arg} groups must be stacked without gaps (stride(0) == rows * stride(1) = {rows * row_stride}), "
            f"got stride(0) = {t.stride(0)}",
        )


def _check_device(op: str, arg: str, t: torch.Tensor, a: torch.Tensor) -> None:
    if t.device.type != "cuda":
        _fail(op, f"{arg} must be a CUDA tensor, got a tensor on another device")
    if t.device != a.device:
        _fail(op, f"{arg} must be on cuda:{a.device.index} like a, got cuda:{t.device.index}")


def _check_nt_operands(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> tuple:
    """The checks every dense NT op shares (mirror of check_nt_operands in op_common.cpp):
    devices, the fp8 operands, b's K, N % 8, sa as float [M, ceil(K/128)], sb's dtype.
    sb's shape is the caller's. Returns (M, N, K, Kb)."""
    if a.device.type != "cuda":
        _fail(op, "a must be a CUDA tensor, got a tensor on another device")
    for arg, t in (("sa", sa), ("b", b), ("sb", sb)):
        _check_device(op, arg, t, a)
    _check_fp8_operand(op, "a", a)
    _check_fp8_operand(op, "b", b)
    m, k = a.shape
    n = b.shape[0]
    if b.shape[1] != k:
        _fail(op, f"b must be [N, K] with the K of a ({k}), got {_shape(b.shape)}")
    if n % 8 != 0:
        _fail(op, f"N must be a multiple of 8, got N = {n}")
    kb = (k + 127) // 128
    _check_dtype(op, "sa", sa, torch.float32)
    if list(sa.shape) != [m, kb]:
        _fail(op, f"sa must have shape [M, ceil(K/128)] = {_shape([m, kb])}, got {_shape(sa.shape)}")
    _check_dtype(op, "sb", sb, torch.float32)
    return m, n, k, kb


def check_dense(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> tuple:
    """Checks the 1D2D operands; returns (M, N, K)."""
    m, n, k, kb = _check_nt_operands(op, a, sa, b, sb)
    nb = (n + 127) // 128
    if list(sb.shape) != [nb, kb]:
        _fail(op, f"sb must have shape [ceil(N/128), ceil(K/128)] = {_shape([nb, kb])}, got {_shape(sb.shape)}")
    return m, n, k


def check_out_dtype(op: str, out_dtype: Optional[torch.dtype]) -> torch.dtype:
    dtype = torch.bfloat16 if out_dtype is None else out_dtype
    if dtype not in (torch.bfloat16, torch.float32):
        _fail(op, f"out_dtype must be bfloat16 or float32, got {_name(dtype)}")
    return dtype


def check_out(op: str, out: torch.Tensor, a: torch.Tensor, m: int, n: int, accumulate: bool) -> None:
    _check_device(op, "out", out, a)
    if out.dtype not in (torch.bfloat16, torch.float32):
        _fail(op, f"out must be bfloat16 or float32, got {_name(out.dtype)}")
    if list(out.shape) != [m, n]:
        _fail(op, f"out must have shape [M, N] = {_shape([m, n])}, got {_shape(out.shape)}")
    if not out.is_contiguous():
        _fail(op, "out must be contiguous")
    if accumulate and out.dtype != torch.float32:
        _fail(op, f"accumulate=True needs a float32 out, got {_name(out.dtype)}")


MAX_GROUPS = 1024  # kMaxGroups in csrc/kernels/sm90_gemm_layout.hpp (masked and offset layouts)


def check_grouped(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, a_dims: int) -> tuple:
    """Checks the operands of an M-grouped op (a: [M, K] or [G, Mmax, K]; b: [G, N, K]);
    returns (rows, G, N, K) with rows = M or Mmax."""
    if a.device.type != "cuda":
        _fail(op, "a must be a CUDA tensor, got a tensor on another device")
    for arg, t in (("sa", sa), ("b", b), ("sb", sb)):
        _check_device(op, arg, t, a)
    _check_fp8_operand(op, "a", a, a_dims)
    _check_fp8_operand(op, "b", b, 3)
    g, n = b.shape[0], b.shape[1]
    rows, k = a.shape[-2], a.shape[-1]
    if b.shape[2] != k:
        _fail(op, f"b must be [G, N, K] with the K of a ({k}), got {_shape(b.shape)}")
    if a_dims == 3 and a.shape[0] != g:
        _fail(op, f"a must be [G, Mmax, K] with the G of b ({g}), got {_shape(a.shape)}")
    if n % 8 != 0:
        _fail(op, f"N must be a multiple of 8, got N = {n}")
    kb = (k + 127) // 128
    _check_dtype(op, "sa", sa, torch.float32)
    if a_dims == 3:
        if list(sa.shape) != [g, rows, kb]:
            _fail(op, f"sa must have shape [G, Mmax, ceil(K/128)] = {_shape([g, rows, kb])}, got {_shape(sa.shape)}")
    elif list(sa.shape) != [rows, kb]:
        _fail(op, f"sa must have shape [M, ceil(K/128)] = {_shape([rows, kb])}, got {_shape(sa.shape)}")
    _check_dtype(op, "sb", sb, torch.float32)
    want = [g, (n + 127) // 128, kb]
    if list(sb.shape) != want:
        _fail(op, f"sb must have shape [G, ceil(N/128), ceil(K/128)] = {_shape(want)}, got {_shape(sb.shape)}")
    return rows, g, n, k


def check_group_limit(op: str, g: int) -> None:
    if g > MAX_GROUPS:
        _fail(op, f"at most {MAX_GROUPS} groups are supported, got G = {g}")


def check_index(op: str, arg: str, t: torch.Tensor, a: torch.Tensor, length: int, formula: str,
                allow_int64: bool = False) -> None:
    """A 1-D int32 (or int64) device tensor of `length` entries (m_indices, masked_m, offsets)."""
    _check_device(op, arg, t, a)
    if allow_int64:
        if t.dtype not in (torch.int32, torch.int64):
            _fail(op, f"{arg} must be int32 or int64, got {_name(t.dtype)}")
    else:
        _check_dtype(op, arg, t, torch.int32)
    if list(t.shape) != [length]:
        _fail(op, f"{arg} must have shape {formula} = {_shape([length])}, got {_shape(t.shape)}")
    if length > 1 and t.stride(0) != 1:
        _fail(op, f"{arg} must be contiguous, got stride(0) = {t.stride(0)}")


def check_typed_out(op: str, out: torch.Tensor, a: torch.Tensor, want: list, formula: str,
                    dtype: torch.dtype) -> None:
    """A contiguous `out` of `dtype` and shape `want` on a's device (the grouped ops write
    bfloat16, the weight-gradient ops float32)."""
    _check_device(op, "out", out, a)
    _check_dtype(op, "out", out, dtype)
    if list(out.shape) != list(want):
        _fail(op, f"out must have shape {formula} = {_shape(want)}, got {_shape(out.shape)}")
    if not out.is_contiguous():
        _fail(op, "out must be contiguous")


# ---------------------------------------------------------------- weight gradients (1D1D)


def check_wgrad(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> tuple:
    """Checks the dense weight-gradient operands (both scaled 1x128); returns (M, N, K)."""
    m, n, k, kb = _check_nt_operands(op, a, sa, b, sb)
    if list(sb.shape) != [n, kb]:
        _fail(op, f"sb must have shape [N, ceil(K/128)] = {_shape([n, kb])}, got {_shape(sb.shape)}")
    return m, n, k


def _check_flat(op: str, arg: str, t: torch.Tensor, rows: str) -> None:
    _check_dtype(op, arg, t, torch.float8_e4m3fn)
    if t.dim() != 1:
        _fail(op, f"{arg} must be 1-D (the groups' row-major [{rows}, K_g] blocks concatenated), "
                  f"got {t.dim()}-D {_shape(t.shape)}")
    if t.numel() > 1 and t.stride(0) != 1:
        _fail(op, f"{arg} must be contiguous, got stride(0) = {t.stride(0)}")


def check_k_grouped_wgrad(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor,
                          ks: torch.Tensor) -> tuple:
    """Checks the k-grouped weight-gradient operands; returns (G, M, N, sum(ks))."""
    if a.device.type != "cuda":
        _fail(op, "a must be a CUDA tensor, got a tensor on another device")
    for arg, t in (("sa", sa), ("b", b), ("sb", sb), ("ks", ks)):
        _check_device(op, arg, t, a)
    _check_flat(op, "a", a, "M")
    _check_flat(op, "b", b, "N")
    _check_dtype(op, "sa", sa, torch.float32)
    if sa.dim() != 2:
        _fail(op, f"sa must be 2-D [sum_g ceil(K_g/128), M], got {sa.dim()}-D {_shape(sa.shape)}")
    _check_dtype(op, "sb", sb, torch.float32)
    if sb.dim() != 2:
        _fail(op, f"sb must be 2-D [sum_g ceil(K_g/128), N], got {sb.dim()}-D {_shape(sb.shape)}")
    rows, m = sa.shape
    n = sb.shape[1]
    if sb.shape[0] != rows:
        _fail(op, f"sb must have shape [sum_g ceil(K_g/128), N] with the rows of sa ({rows}), got {_shape(sb.shape)}")
    if n % 8 != 0:
        _fail(op, f"N must be a multiple of 8, got N = sb.size(1) = {n}")
    _check_dtype(op, "ks", ks, torch.int32)
    if ks.dim() != 1:
        _fail(op, f"ks must be 1-D [G], got {ks.dim()}-D {_shape(ks.shape)}")
    g = ks.shape[0]
    if g > 1 and ks.stride(0) != 1:
        _fail(op, f"ks must be contiguous, got stride(0) = {ks.stride(0)}")
    if g > MAX_GROUPS:
        _fail(op, f"at most {MAX_GROUPS} groups are supported, got G = {g}")
    if m > 0:
        if a.numel() % m != 0:
            _fail(op, f"a must hold M * sum(ks) elements, a multiple of M = {m}, got {a.numel()}")
        k = a.numel() // m
    else:
        if a.numel() != 0:
            _fail(op, f"a must be empty when M = sa.size(1) = 0, got {a.numel()} elements")
        k = b.numel() // n if n > 0 else 0
    if k % 16 != 0:
        _fail(op, f"sum(ks) = a.numel() / M must be a multiple of 16, got {k}")
    if b.numel() != n * k:
        _fail(op, f"b must hold N * sum(ks) = {n} * {k} = {n * k} elements (sum(ks) = a.numel() / M), "
                  f"got {b.numel()}")
    lo, hi = (k + 127) // 128, k // 16
    if not lo <= rows <= hi:
        _fail(op, f"sa must have sum_g ceil(K_g/128) rows, between ceil(sum(ks)/128) = {lo} and "
                  f"sum(ks)/16 = {hi} for sum(ks) = {k}, got {rows}")
    return g, m, n, k


def check_ks_list(op: str, ks: Sequence[int], m: int, a_numel: int, kb_rows: int) -> None:
    """Host-side rules for ks given as a list (the host sees the values)."""
    for i, v in enumerate(ks):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"fp8gemm.{op}: ks must be a list of ints or an int32 tensor, got ks[{i}] = {v!r}")
        if v < 0 or v % 16 != 0:
            _fail(op, f"every K_g must be a non-negative multiple of 16, got ks[{i}] = {v}")
    total = sum(ks)
    if m > 0 and a_numel != m * total:
        _fail(op, f"a must hold M * sum(ks) = {m} * {total} = {m * total} elements, got {a_numel}")
    rows = sum((v + 127) // 128 for v in ks)
    if kb_rows != rows:
        _fail(op, f"sa must have sum_g ceil(K_g/128) = {rows} rows for ks = {list(ks)}, got {kb_rows}")
