"""fp8gemm.compat.deep_gemm: DeepGEMM's v1 names and arguments, mapped onto fp8gemm."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from fp8gemm import _native
from gpu_utils import requires_hopper

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

import fp8gemm  # noqa: E402
import fp8gemm.compat.deep_gemm as deep_gemm  # noqa: E402

FP8 = torch.float8_e4m3fn


def test_names_present() -> None:
    for name in deep_gemm.__all__:
        assert callable(getattr(deep_gemm, name)), name
    assert deep_gemm.get_m_alignment_for_contiguous_layout() == 128
    assert deep_gemm.ceil_div(129, 128) == 2


def test_tuple_arguments_trace_and_refuse_bad_input() -> None:
    with FakeTensorMode():
        a = torch.empty(64, 256, dtype=FP8, device="cuda")
        sa = fp8gemm.get_col_major_tma_aligned_tensor(torch.empty(64, 2, device="cuda"))
        b = torch.empty(512, 256, dtype=FP8, device="cuda")
        sb = torch.empty(4, 2, device="cuda")
        out = torch.empty(64, 512, dtype=torch.bfloat16, device="cuda")
        assert deep_gemm.gemm_fp8_fp8_bf16_nt((a, sa), (b, sb), out) is None
        with pytest.raises(ValueError, match="fp8gemm.gemm_nt_out: out must have shape"):
            deep_gemm.gemm_fp8_fp8_bf16_nt((a, sa), (b, sb), out[:, :256])
    with pytest.raises(TypeError, match="lhs must be a \\(tensor, scales\\) pair"):
        deep_gemm.gemm_fp8_fp8_bf16_nt(a, (b, sb), out)


@pytest.mark.gpu
@requires_hopper
def test_same_bits_as_the_native_ops() -> None:
    from fp8gemm.testing import contiguous_m_indices, random_fp8_activations, random_fp8_problem, random_fp8_weights

    p = random_fp8_problem(100, 512, 384, seed=1)
    out = torch.empty(100, 512, dtype=torch.bfloat16, device="cuda")
    deep_gemm.gemm_fp8_fp8_bf16_nt((p["a"], p["sa"]), (p["b"], p["sb"]), out)
    assert torch.equal(out, fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"]))

    b, sb = random_fp8_weights(3, 256, 384, seed=2)
    idx = contiguous_m_indices([128, 256, 128])
    a, sa = random_fp8_activations((idx.numel(), 384), seed=3)
    out = torch.empty(idx.numel(), 256, dtype=torch.bfloat16, device="cuda")
    deep_gemm.m_grouped_gemm_fp8_fp8_bf16_nt_contiguous((a, sa), (b, sb), out, idx)
    assert torch.equal(out, fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx))

    a3, sa3 = random_fp8_activations((3, 32, 384), seed=4)
    mm = torch.tensor([32, 5, 0], dtype=torch.int32, device="cuda")
    out3 = torch.zeros(3, 32, 256, dtype=torch.bfloat16, device="cuda")
    ref3 = out3.clone()
    deep_gemm.m_grouped_gemm_fp8_fp8_bf16_nt_masked((a3, sa3), (b, sb), out3, mm, 16)
    fp8gemm.m_grouped_gemm_nt_masked_out(a3, sa3, b, sb, mm, ref3, 16)
    assert torch.equal(out3, ref3)


def test_wgrad_tuple_arguments_trace() -> None:
    with FakeTensorMode(allow_non_fake_inputs=True):
        a = torch.empty(64, 256, dtype=FP8, device="cuda")
        sa = fp8gemm.get_col_major_tma_aligned_tensor(torch.empty(64, 2, device="cuda"))
        b = torch.empty(512, 256, dtype=FP8, device="cuda")
        sb = fp8gemm.get_col_major_tma_aligned_tensor(torch.empty(512, 2, device="cuda"))
        out = torch.empty(64, 512, device="cuda")
        assert deep_gemm.wgrad_gemm_fp8_fp8_fp32_nt((a, sa), (b, sb), out) is None
        with pytest.raises(ValueError, match="fp8gemm.wgrad_gemm_nt_out: sb must have shape"):
            deep_gemm.wgrad_gemm_fp8_fp8_fp32_nt((a, sa), (b, sb[:4]), out)
        ka = torch.empty(64 * 384, dtype=FP8, device="cuda")
        kb = torch.empty(512 * 384, dtype=FP8, device="cuda")
        out3 = torch.empty(2, 64, 512, device="cuda")
        ksa, ksb = torch.empty(3, 64, device="cuda"), torch.empty(3, 512, device="cuda")
        assert deep_gemm.k_grouped_wgrad_gemm_fp8_fp8_fp32_nt((ka, ksa), (kb, ksb), out3, [256, 128]) is None


@pytest.mark.gpu
@requires_hopper
def test_wgrad_same_bits_as_the_native_ops() -> None:
    from fp8gemm.quant import k_grouped_cast_to_fp8, per_token_cast_to_fp8
    from fp8gemm.testing import random_wgrad_operand

    a, sa = per_token_cast_to_fp8(random_wgrad_operand(100, 384, seed=1))
    b, sb = per_token_cast_to_fp8(random_wgrad_operand(256, 384, seed=2))
    out = torch.randn(100, 256, device="cuda")
    ref = out.clone()
    deep_gemm.wgrad_gemm_fp8_fp8_fp32_nt((a, sa), (b, sb), out)
    fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, ref)
    assert torch.equal(out, ref)
    ks = [256, 0, 144]
    ka, ksa = k_grouped_cast_to_fp8([random_wgrad_operand(64, k, seed=k) for k in ks])
    kb, ksb = k_grouped_cast_to_fp8([random_wgrad_operand(128, k, seed=k + 1) for k in ks])
    out3 = torch.randn(3, 64, 128, device="cuda")
    ref3 = out3.clone()
    deep_gemm.k_grouped_wgrad_gemm_fp8_fp8_fp32_nt((ka, ksa), (kb, ksb), out3, torch.tensor(ks, dtype=torch.int32, device="cuda"))
    fp8gemm.k_grouped_wgrad_gemm_nt_out(ka, ksa, kb, ksb, ks, ref3)
    assert torch.equal(out3, ref3)
