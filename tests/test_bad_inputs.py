"""Every argument rule of SPEC.md for the dense ops, as one table. Each case runs
through the fake kernels on any machine (trace-time refusal) and through the native op
on an sm_90 GPU (refusal before any launch); both must name the argument."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import fp8gemm
from fp8gemm import _native
from gpu_utils import hopper_skip_reason
from mutations import put

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

FP8 = torch.float8_e4m3fn
M, N, K = 100, 256, 384


def valid(dev):
    kb = (K + 127) // 128
    return dict(
        a=torch.zeros(M, K, dtype=FP8, device=dev),
        sa=fp8gemm.get_col_major_tma_aligned_tensor(torch.ones(M, kb, device=dev)),
        b=torch.zeros(N, K, dtype=FP8, device=dev),
        sb=torch.ones(2, kb, device=dev),
        out=torch.zeros(M, N, dtype=torch.bfloat16, device=dev),
    )



# (case id, mutation, the op(s) it applies to, a fragment the message must contain)
CASES = [
    ("a_dtype", put(a=lambda x, d: x["a"].to(torch.bfloat16)), "both", "a must be float8_e4m3fn, got bfloat16"),
    ("b_dtype", put(b=lambda x, d: x["b"].view(torch.int8)), "both", "b must be float8_e4m3fn"),
    ("a_rank", put(a=lambda x, d: x["a"].view(1, M, K)), "both", "a must be 2-D [rows, K], got 3-D"),
    ("b_rank", put(b=lambda x, d: x["b"].view(-1)), "both", "b must be 2-D"),
    ("k_mismatch", put(b=lambda x, d: torch.zeros(N, K - 128, dtype=FP8, device=d)), "both",
     "b must be [N, K] with the K of a (384)"),
    ("k_not_16", put(a=lambda x, d: torch.zeros(M, 120, dtype=FP8, device=d)[:, :104]), "both",
     "K must be a multiple of 16"),
    ("n_not_8", put(b=lambda x, d: torch.zeros(252, K, dtype=FP8, device=d)), "both",
     "N must be a multiple of 8, got N = 252"),
    ("a_not_k_contig", put(a=lambda x, d: torch.zeros(K, M, dtype=FP8, device=d).t()), "both",
     "a must be contiguous along K"),
    ("a_row_stride", put(a=lambda x, d: torch.zeros(M, K + 8, dtype=FP8, device=d)[:, :K]), "both",
     "a rows must be 16-byte aligned"),
    ("sa_dtype", put(sa=lambda x, d: x["sa"].double()), "both", "sa must be float32, got float64"),
    ("sa_shape", put(sa=lambda x, d: torch.ones(M, 2, device=d)), "both",
     "sa must have shape [M, ceil(K/128)] = [100, 3], got [100, 2]"),
    ("sb_dtype", put(sb=lambda x, d: x["sb"].half()), "both", "sb must be float32, got float16"),
    ("sb_shape", put(sb=lambda x, d: torch.ones(256, 3, device=d)), "both",
     "sb must have shape [ceil(N/128), ceil(K/128)] = [2, 3], got [256, 3]"),
    ("sa_on_cpu", put(sa=lambda x, d: torch.ones(M, 3)), "both", "sa must be a CUDA tensor"),
    ("out_dtype_arg", None, "gemm_nt", "out_dtype must be bfloat16 or float32, got float16"),
    ("out_shape", put(out=lambda x, d: torch.zeros(M, N + 8, dtype=torch.bfloat16, device=d)), "gemm_nt_out",
     "out must have shape [M, N] = [100, 256], got [100, 264]"),
    ("out_dtype", put(out=lambda x, d: torch.zeros(M, N, dtype=torch.float16, device=d)), "gemm_nt_out",
     "out must be bfloat16 or float32, got float16"),
    ("out_noncontig", put(out=lambda x, d: torch.zeros(N, M, dtype=torch.bfloat16, device=d).t()), "gemm_nt_out",
     "out must be contiguous"),
    ("accumulate_bf16", None, "accumulate", "accumulate=True needs a float32 out, got bfloat16"),
]


def _call(case, dev):
    _, mutate, which, _ = case
    args = valid(dev)
    if mutate is not None:
        args = mutate(args, dev)
    if which == "gemm_nt":
        dtype = torch.float16 if case[0] == "out_dtype_arg" else torch.bfloat16
        return fp8gemm.gemm_nt(args["a"], args["sa"], args["b"], args["sb"], out_dtype=dtype)
    if which == "accumulate":
        return fp8gemm.gemm_nt_out(args["a"], args["sa"], args["b"], args["sb"], args["out"], accumulate=True)
    if which == "both":
        fp8gemm.gemm_nt_out(args["a"], args["sa"], args["b"], args["sb"], args["out"])
        return fp8gemm.gemm_nt(args["a"], args["sa"], args["b"], args["sb"])
    return fp8gemm.gemm_nt_out(args["a"], args["sa"], args["b"], args["sb"], args["out"])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused_at_trace_time(case):
    with FakeTensorMode(allow_non_fake_inputs=True):
        with pytest.raises((ValueError, RuntimeError)) as info:
            _call(case, "cuda")
    assert case[3] in str(info.value)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_refused_before_launch(case):
    with pytest.raises((ValueError, RuntimeError)) as info:
        _call(case, "cuda")
    torch.cuda.synchronize()  # nothing was launched that could fault
    assert case[3] in str(info.value)


# Rules the fake kernels cannot see (they need data pointers): native only.
@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("target", ["a", "sa", "b", "sb"])
def test_out_overlapping_an_input_is_refused(target):
    args = valid("cuda")
    kb = (K + 127) // 128
    storage = torch.zeros(M * N * 4 + N * K + 4096, dtype=torch.uint8, device="cuda")
    out = storage[: M * N * 4].view(torch.float32).view(M, N)
    tail = storage[M * N * 4 - 256 :]  # starts inside out's last row
    if target == "a":
        args["a"] = tail[: M * K].view(FP8).view(M, K)
    elif target == "b":
        args["b"] = tail[: N * K].view(FP8).view(N, K)
    elif target == "sa":
        args["sa"] = tail[: M * kb * 4].view(torch.float32).view(kb, M).t()
    else:
        args["sb"] = tail[: 2 * kb * 4].view(torch.float32).view(2, kb)
    with pytest.raises(ValueError, match=f"out must not overlap {target}"):
        fp8gemm.gemm_nt_out(args["a"], args["sa"], args["b"], args["sb"], out)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("name", ["a", "b", "out"])
def test_misaligned_data_pointer_is_refused(name):
    args = valid("cuda")
    storage = torch.zeros(N * K + 64, dtype=torch.uint8, device="cuda")
    if name == "a":
        args["a"] = storage[8 : 8 + M * K].view(FP8).view(M, K)
    elif name == "b":
        args["b"] = storage[8 : 8 + N * K].view(FP8).view(N, K)
    else:
        args["out"] = storage[8 : 8 + M * N * 2].view(torch.bfloat16).view(M, N)
    with pytest.raises(ValueError, match=f"{name} must start on a 16-byte boundary"):
        fp8gemm.gemm_nt_out(args["a"], args["sa"], args["b"], args["sb"], args["out"])
