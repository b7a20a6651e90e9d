"""Every argument rule of SPEC.md for the M-grouped ops, as one table, run through the
fake kernels (any machine) and the native ops (an sm_90 GPU, refused before launch)."""

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
G, M, MMAX, N, K = 3, 256, 40, 256, 384
KB = 3


def valid(dev):
    col = fp8gemm.get_col_major_tma_aligned_tensor
    return dict(
        a=torch.zeros(M, K, dtype=FP8, device=dev),
        sa=col(torch.ones(M, KB, device=dev)),
        a3=torch.zeros(G, MMAX, K, dtype=FP8, device=dev),
        sa3=col(torch.ones(G, MMAX, KB, device=dev)),
        b=torch.zeros(G, N, K, dtype=FP8, device=dev),
        sb=torch.ones(G, 2, KB, device=dev),
        m_indices=torch.zeros(M, dtype=torch.int32, device=dev),
        masked_m=torch.zeros(G, dtype=torch.int32, device=dev),
        offsets=torch.zeros(G + 1, dtype=torch.int32, device=dev),
        out=torch.zeros(M, N, dtype=torch.bfloat16, device=dev),
        out3=torch.zeros(G, MMAX, N, dtype=torch.bfloat16, device=dev),
    )


OPS = {
    "contiguous": lambda x: fp8gemm.m_grouped_gemm_nt_contiguous(x["a"], x["sa"], x["b"], x["sb"], x["m_indices"]),
    "contiguous_out": lambda x: fp8gemm.m_grouped_gemm_nt_contiguous_out(
        x["a"], x["sa"], x["b"], x["sb"], x["m_indices"], x["out"]),
    "masked": lambda x: fp8gemm.m_grouped_gemm_nt_masked(x["a3"], x["sa3"], x["b"], x["sb"], x["masked_m"], 8),
    "masked_out": lambda x: fp8gemm.m_grouped_gemm_nt_masked_out(
        x["a3"], x["sa3"], x["b"], x["sb"], x["masked_m"], x["out3"], 8),
    "offset": lambda x: fp8gemm.m_grouped_gemm_nt_offset(x["a"], x["sa"], x["b"], x["sb"], x["offsets"], 8),
    "offset_out": lambda x: fp8gemm.m_grouped_gemm_nt_offset_out(
        x["a"], x["sa"], x["b"], x["sb"], x["offsets"], x["out"], 8),
}
ALL = tuple(OPS)
FLAT = ("contiguous", "contiguous_out", "offset", "offset_out")
MASKED = ("masked", "masked_out")



# (case id, mutation, ops it applies to, a fragment the message must contain)
CASES = [
    ("b_rank", put(b=lambda x, d: torch.zeros(N, K, dtype=FP8, device=d)), ALL, "b must be 3-D [G, rows, K], got 2-D"),
    ("b_dtype", put(b=lambda x, d: x["b"].view(torch.int8)), ALL, "b must be float8_e4m3fn, got another dtype"),
    ("b_k_mismatch", put(b=lambda x, d: torch.zeros(G, N, 256, dtype=FP8, device=d)), ALL,
     "b must be [G, N, K] with the K of a (384)"),
    ("b_gaps", put(b=lambda x, d: torch.zeros(G, N + 16, K, dtype=FP8, device=d)[:, :N]), ALL,
     "b groups must be stacked without gaps"),
    ("n_not_8", put(b=lambda x, d: torch.zeros(G, 252, K, dtype=FP8, device=d)), ALL, "N must be a multiple of 8"),
    ("a_dtype", put(a=lambda x, d: x["a"].to(torch.bfloat16)), FLAT, "a must be float8_e4m3fn, got bfloat16"),
    ("a_rank", put(a=lambda x, d: x["a"].view(1, M, K)), FLAT, "a must be 2-D [rows, K], got 3-D"),
    ("k_not_16", put(a=lambda x, d: torch.zeros(M, 120, dtype=FP8, device=d)[:, :104]), FLAT,
     "K must be a multiple of 16"),
    ("sa_shape", put(sa=lambda x, d: torch.ones(M, 2, device=d)), FLAT,
     "sa must have shape [M, ceil(K/128)] = [256, 3], got [256, 2]"),
    ("sa_dtype", put(sa=lambda x, d: x["sa"].double()), FLAT, "sa must be float32, got float64"),
    ("sb_shape", put(sb=lambda x, d: torch.ones(2, KB, device=d)), ALL,
     "sb must have shape [G, ceil(N/128), ceil(K/128)] = [3, 2, 3], got [2, 3]"),
    ("sb_on_cpu", put(sb=lambda x, d: torch.ones(G, 2, KB)), ALL, "sb must be a CUDA tensor"),
    ("m_indices_dtype", put(m_indices=lambda x, d: x["m_indices"].long()), ("contiguous", "contiguous_out"),
     "m_indices must be int32, got int64"),
    ("m_indices_shape", put(m_indices=lambda x, d: torch.zeros(M - 1, dtype=torch.int32, device=d)),
     ("contiguous", "contiguous_out"), "m_indices must have shape [M] = [256], got [255]"),
    ("m_indices_on_cpu", put(m_indices=lambda x, d: torch.zeros(M, dtype=torch.int32)),
     ("contiguous", "contiguous_out"), "m_indices must be a CUDA tensor"),
    ("m_indices_strided", put(m_indices=lambda x, d: torch.zeros(2 * M, dtype=torch.int32, device=d)[::2]),
     ("contiguous", "contiguous_out"), "m_indices must be contiguous"),
    ("a3_rank", put(a3=lambda x, d: torch.zeros(MMAX, K, dtype=FP8, device=d)), MASKED,
     "a must be 3-D [G, rows, K], got 2-D"),
    ("a3_groups", put(a3=lambda x, d: torch.zeros(G + 1, MMAX, K, dtype=FP8, device=d)), MASKED,
     "a must be [G, Mmax, K] with the G of b (3)"),
    ("sa3_shape", put(sa3=lambda x, d: torch.ones(G, MMAX, 2, device=d)), MASKED,
     "sa must have shape [G, Mmax, ceil(K/128)] = [3, 40, 3], got [3, 40, 2]"),
    ("masked_m_dtype", put(masked_m=lambda x, d: x["masked_m"].long()), MASKED, "masked_m must be int32, got int64"),
    ("masked_m_shape", put(masked_m=lambda x, d: torch.zeros(G + 1, dtype=torch.int32, device=d)), MASKED,
     "masked_m must have shape [G] = [3], got [4]"),
    ("offsets_dtype", put(offsets=lambda x, d: x["offsets"].float()), ("offset", "offset_out"),
     "offsets must be int32 or int64, got float32"),
    ("offsets_shape", put(offsets=lambda x, d: torch.zeros(G, dtype=torch.int32, device=d)), ("offset", "offset_out"),
     "offsets must have shape [G + 1] = [4], got [3]"),
    ("too_many_groups", put(b=lambda x, d: torch.zeros(1025, 16, K, dtype=FP8, device=d),
                             sb=lambda x, d: torch.ones(1025, 1, KB, device=d)), ("offset", "offset_out"),
     "at most 1024 groups are supported, got G = 1025"),
    ("out_dtype", put(out=lambda x, d: torch.zeros(M, N, device=d)), ("contiguous_out", "offset_out"),
     "out must be bfloat16, got float32"),
    ("out_shape", put(out=lambda x, d: torch.zeros(M, N + 8, dtype=torch.bfloat16, device=d)),
     ("contiguous_out", "offset_out"), "out must have shape [M, N] = [256, 256], got [256, 264]"),
    ("out3_shape", put(out3=lambda x, d: torch.zeros(G, MMAX + 1, N, dtype=torch.bfloat16, device=d)),
     ("masked_out",), "out must have shape [G, Mmax, N] = [3, 40, 256], got [3, 41, 256]"),
    ("out_noncontig", put(out=lambda x, d: torch.zeros(N, M, dtype=torch.bfloat16, device=d).t()),
     ("contiguous_out", "offset_out"), "out must be contiguous"),
]

PAIRS = [(c, op) for c in CASES for op in c[2]]


def _run(case, op, dev):
    args = case[1](valid(dev), dev)
    return OPS[op](args)


@pytest.mark.parametrize("case,op", PAIRS, ids=[f"{c[0]}-{op}" for c, op in PAIRS])
def test_refused_at_trace_time(case, op):
    with FakeTensorMode(allow_non_fake_inputs=True):
        with pytest.raises((ValueError, RuntimeError)) as info:
            _run(case, op, "cuda")
    assert case[3] in str(info.value)
    assert f"fp8gemm.m_grouped_gemm_nt_{op}:" in str(info.value)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("case,op", PAIRS, ids=[f"{c[0]}-{op}" for c, op in PAIRS])
def test_refused_before_launch(case, op):
    with pytest.raises((ValueError, RuntimeError)) as info:
        _run(case, op, "cuda")
    torch.cuda.synchronize()
    assert case[3] in str(info.value)
    assert f"fp8gemm.m_grouped_gemm_nt_{op}:" in str(info.value)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("op", ["contiguous_out", "masked_out", "offset_out"])
def test_out_overlapping_an_input_is_refused(op):
    """out aliasing an operand would be read while written: refused before any launch."""
    x = valid("cuda")
    if op == "masked_out":
        storage = torch.zeros(G * MMAX * N * 2, dtype=torch.bfloat16, device="cuda")
        x["out3"] = storage[: G * MMAX * N].view(G, MMAX, N)
        # sa3 in canonical layout, starting inside out's last row
        flat = storage[G * MMAX * N - 64 :].view(torch.float32)
        x["sa3"] = flat[: G * 40 * KB].view(G, KB, 40).transpose(1, 2)
    else:
        storage = torch.zeros(M * N + M * KB * 2, dtype=torch.bfloat16, device="cuda")
        x["out"] = storage[: M * N].view(M, N)
        x["sa"] = storage[M * N - 64 :].view(torch.float32)[: M * KB].view(KB, M).t()  # overlaps out's tail
    with pytest.raises(ValueError, match="out must not overlap sa"):
        OPS[op](x)
