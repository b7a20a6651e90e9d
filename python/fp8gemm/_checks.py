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


def check_dense(op: str, a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> tuple:
    """Checks the 1D2D operands; returns (M, N, K)."""
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


def check_grouped_out(op: str, out: torch.Tensor, a: torch.Tensor, want: list, formula: str) -> None:
    _check_device(op, "out", out, a)
    _check_dtype(op, "out", out, torch.bfloat16)
    if list(out.shape) != list(want):
        _fail(op, f"out must have shape {formula} = {_shape(want)}, got {_shape(out.shape)}")
    if not out.is_contiguous():
        _fail(op, "out must be contiguous")
