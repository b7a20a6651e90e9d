"""CPU tests of fp8gemm.quant and fp8gemm.testing against float64 references."""

from __future__ import annotations

import math

import pytest
import torch

from fp8gemm.quant import (
    dequantize_128x128,
    dequantize_1x128,
    per_block_cast_to_fp8,
    per_token_cast_to_fp8,
)
from fp8gemm.testing import calc_diff, random_fp8_problem, reference_gemm_nt
from fp8gemm.utils import align, ceil_div

FP8_MAX = 448.0
# e4m3fn: 3 mantissa bits -> relative rounding error <= 2^-4 for normal values;
# below the smallest normal (2^-6) the absolute step is 2^-9, i.e. error <= 2^-10.
REL_ERR = 2.0**-4
SUBNORMAL_ABS_ERR = 2.0**-10


def _random(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * torch.exp(torch.randn(*shape[:-1], 1, generator=gen))
    return x.to(dtype)


def _block_amax_1x128(x: torch.Tensor) -> torch.Tensor:
    """Float64 per-row, per-128-column amax, computed with a plain loop over blocks."""
    k = x.shape[-1]
    cols = [x[..., i : i + 128].double().abs().amax(dim=-1) for i in range(0, k, 128)]
    return torch.stack(cols, dim=-1)


def _block_amax_128x128(w: torch.Tensor) -> torch.Tensor:
    n, k = w.shape[-2], w.shape[-1]
    rows = []
    for i in range(0, n, 128):
        cols = [w[..., i : i + 128, j : j + 128].double().abs().amax(dim=(-2, -1)) for j in range(0, k, 128)]
        rows.append(torch.stack(cols, dim=-1))
    return torch.stack(rows, dim=-2)


def _assert_quant_error_bounded(x: torch.Tensor, deq: torch.Tensor, scale_per_elem: torch.Tensor) -> None:
    x64 = x.double()
    bound = x64.abs() * REL_ERR + scale_per_elem * SUBNORMAL_ABS_ERR
    err = (deq - x64).abs()
    assert torch.all(err <= bound * (1 + 1e-6)), f"max excess {(err - bound).max().item()}"


# ---------------------------------------------------------------- per-token (1x128)

TOKEN_SHAPES = [(1, 16), (3, 112), (4, 128), (7, 576), (64, 2048), (129, 2064), (130, 7168)]


@pytest.mark.parametrize("m, k", TOKEN_SHAPES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_per_token_values(m: int, k: int, dtype: torch.dtype) -> None:
    x = _random((m, k), dtype)
    q, sa = per_token_cast_to_fp8(x)
    kb = ceil_div(k, 128)
    assert q.dtype == torch.float8_e4m3fn and q.shape == (m, k) and q.is_contiguous()
    assert sa.dtype == torch.float32 and sa.shape == (m, kb)

    expected_scale = _block_amax_1x128(x).clamp(min=1e-4) / FP8_MAX
    torch.testing.assert_close(sa.double(), expected_scale, rtol=1e-6, atol=0)

    deq = dequantize_1x128(q, sa)
    assert deq.dtype == torch.float64
    _assert_quant_error_bounded(x, deq, expected_scale.repeat_interleave(128, dim=-1)[:, :k])


@pytest.mark.parametrize("m, k", TOKEN_SHAPES)
def test_per_token_block_max_maps_to_fp8_max(m: int, k: int) -> None:
    x = _random((m, k), torch.float32, seed=1)
    q, _ = per_token_cast_to_fp8(x)
    assert torch.all(_block_amax_1x128(q.float()) == FP8_MAX)


@pytest.mark.parametrize("m, k", TOKEN_SHAPES)
def test_per_token_canonical_strides(m: int, k: int) -> None:
    _, sa = per_token_cast_to_fp8(_random((m, k), torch.bfloat16))
    assert sa.stride() == (1, align(m, 4))


@pytest.mark.parametrize("m, k", TOKEN_SHAPES)
def test_per_token_row_major_layout(m: int, k: int) -> None:
    x = _random((m, k), torch.bfloat16)
    q, sa = per_token_cast_to_fp8(x)
    q2, sa2 = per_token_cast_to_fp8(x, layout="row_major")
    assert sa2.is_contiguous() and sa2.shape == sa.shape
    assert torch.equal(sa2, sa)
    assert torch.equal(q2.view(torch.uint8), q.view(torch.uint8))


def test_per_token_zero_blocks() -> None:
    x = _random((5, 384), torch.float32)
    x[:, 128:256] = 0  # one zero block in every row
    x[3] = 0  # one all-zero row
    q, sa = per_token_cast_to_fp8(x)
    assert torch.all(torch.isfinite(sa)) and torch.all(sa > 0)
    assert torch.all(q[:, 128:256].float() == 0) and torch.all(q[3].float() == 0)
    deq = dequantize_1x128(q, sa)
    assert not torch.isnan(deq).any()
    assert torch.all(deq[3] == 0)
    torch.testing.assert_close(sa[3], torch.full((3,), 1e-4 / FP8_MAX))


def test_per_token_tiny_values_do_not_overflow() -> None:
    x = torch.full((2, 128), 1e-7)
    q, sa = per_token_cast_to_fp8(x)
    assert torch.all(torch.isfinite(q.float()))
    assert torch.all(q.float().abs() <= FP8_MAX)


@pytest.mark.parametrize("g, m, k", [(1, 3, 16), (2, 7, 576), (3, 129, 256)])
def test_per_token_grouped(g: int, m: int, k: int) -> None:
    x = _random((g, m, k), torch.bfloat16, seed=2)
    q, sa = per_token_cast_to_fp8(x)
    am, kb = align(m, 4), ceil_div(k, 128)
    assert q.shape == (g, m, k) and q.is_contiguous()
    assert sa.shape == (g, m, kb) and sa.stride() == (am * kb, 1, am)
    for i in range(g):  # each group must equal the 2D quantization of that group
        qi, sai = per_token_cast_to_fp8(x[i])
        assert torch.equal(q[i].view(torch.uint8), qi.view(torch.uint8))
        assert torch.equal(sa[i], sai)
    _, sa_rm = per_token_cast_to_fp8(x, layout="row_major")
    assert sa_rm.is_contiguous() and torch.equal(sa_rm, sa)


def test_per_token_empty_m() -> None:
    q, sa = per_token_cast_to_fp8(torch.empty(0, 256, dtype=torch.bfloat16))
    assert q.shape == (0, 256) and sa.shape == (0, 2)


# ---------------------------------------------------------------- per-block (128x128)

BLOCK_SHAPES = [(16, 16), (128, 128), (136, 112), (256, 576), (300, 2064)]


@pytest.mark.parametrize("n, k", BLOCK_SHAPES)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_per_block_values(n: int, k: int, dtype: torch.dtype) -> None:
    w = _random((n, k), dtype, seed=3)
    q, sb = per_block_cast_to_fp8(w)
    nb, kb = ceil_div(n, 128), ceil_div(k, 128)
    assert q.dtype == torch.float8_e4m3fn and q.shape == (n, k) and q.is_contiguous()
    assert sb.dtype == torch.float32 and sb.shape == (nb, kb) and sb.is_contiguous()

    expected_scale = _block_amax_128x128(w).clamp(min=1e-4) / FP8_MAX
    torch.testing.assert_close(sb.double(), expected_scale, rtol=1e-6, atol=0)
    per_elem = expected_scale.repeat_interleave(128, 0).repeat_interleave(128, 1)[:n, :k]
    _assert_quant_error_bounded(w, dequantize_128x128(q, sb), per_elem)
    assert torch.all(_block_amax_128x128(q.float()) == FP8_MAX)


def test_per_block_zero_block() -> None:
    w = _random((256, 256), torch.float32)
    w[128:, :128] = 0
    q, sb = per_block_cast_to_fp8(w)
    assert torch.all(torch.isfinite(sb)) and torch.all(sb > 0)
    assert torch.all(q[128:, :128].float() == 0)
    assert not torch.isnan(dequantize_128x128(q, sb)).any()


@pytest.mark.parametrize("g, n, k", [(1, 16, 16), (2, 136, 112), (3, 256, 384)])
def test_per_block_grouped(g: int, n: int, k: int) -> None:
    w = _random((g, n, k), torch.bfloat16, seed=4)
    q, sb = per_block_cast_to_fp8(w)
    assert q.shape == (g, n, k) and q.is_contiguous()
    assert sb.shape == (g, ceil_div(n, 128), ceil_div(k, 128)) and sb.is_contiguous()
    for i in range(g):
        qi, sbi = per_block_cast_to_fp8(w[i])
        assert torch.equal(q[i].view(torch.uint8), qi.view(torch.uint8))
        assert torch.equal(sb[i], sbi)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn, arg", [(per_token_cast_to_fp8, "x"), (per_block_cast_to_fp8, "w")])
def test_cast_rejects_k_not_multiple_of_16(fn, arg: str) -> None:
    with pytest.raises(ValueError, match=rf"{arg}.shape\[-1\] \(K\) must be a multiple of 16, got K = 100"):
        fn(torch.randn(4, 100))


@pytest.mark.parametrize("fn", [per_token_cast_to_fp8, per_block_cast_to_fp8])
def test_cast_rejects_bad_dtype_and_rank(fn) -> None:
    with pytest.raises(ValueError, match="must be bfloat16, float16 or float32, got torch.int32"):
        fn(torch.zeros(4, 128, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"must be 2D .* got 1D"):
        fn(torch.zeros(128))


def test_per_token_rejects_bad_layout() -> None:
    with pytest.raises(ValueError, match="layout must be 'canonical' or 'row_major', got 'col'"):
        per_token_cast_to_fp8(torch.randn(4, 128), layout="col")


def test_dequantize_rejects_wrong_scale_shape() -> None:
    q = torch.zeros(4, 256).to(torch.float8_e4m3fn)
    with pytest.raises(ValueError, match=r"\[4, 2\], got \[4, 3\]"):
        dequantize_1x128(q, torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"\[1, 2\], got \[4, 2\]"):
        dequantize_128x128(q, torch.ones(4, 2))


# ---------------------------------------------------------------- tracing


@pytest.mark.parametrize("layout", ["canonical", "row_major"])
def test_per_token_traces_fullgraph(layout: str) -> None:
    torch._dynamo.reset()
    x = _random((7, 576), torch.bfloat16)
    fn = torch.compile(lambda t: per_token_cast_to_fp8(t, layout=layout), fullgraph=True, backend="aot_eager")
    q, sa = fn(x)
    q_ref, sa_ref = per_token_cast_to_fp8(x, layout=layout)
    assert torch.equal(q.view(torch.uint8), q_ref.view(torch.uint8))
    assert torch.equal(sa, sa_ref) and sa.stride() == sa_ref.stride()


def test_per_block_traces_fullgraph() -> None:
    torch._dynamo.reset()
    w = _random((136, 112), torch.bfloat16)
    q, sb = torch.compile(per_block_cast_to_fp8, fullgraph=True, backend="aot_eager")(w)
    q_ref, sb_ref = per_block_cast_to_fp8(w)
    assert torch.equal(q.view(torch.uint8), q_ref.view(torch.uint8)) and torch.equal(sb, sb_ref)


def test_quant_on_fake_cuda_tensors() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        q, sa = per_token_cast_to_fp8(torch.empty(129, 576, device="cuda", dtype=torch.bfloat16))
        assert q.device.type == "cuda" and sa.stride() == (1, 132)
        qb, sb = per_block_cast_to_fp8(torch.empty(136, 576, device="cuda", dtype=torch.bfloat16))
        assert qb.shape == (136, 576) and sb.shape == (2, 5)


# ---------------------------------------------------------------- testing helpers


def test_calc_diff() -> None:
    x = torch.randn(64, 64)
    assert calc_diff(x, x) == pytest.approx(0.0, abs=1e-12)
    assert calc_diff(x, -x) == pytest.approx(2.0)
    assert calc_diff(torch.zeros(3), torch.zeros(3)) == 0.0
    assert 0 < calc_diff(x, x * 1.01) < 1e-4
    with pytest.raises(ValueError, match="same shape"):
        calc_diff(x, x[:3])


@pytest.mark.parametrize("b_scales", ["128x128", "1x128"])
@pytest.mark.parametrize("m, n, k", [(1, 16, 16), (7, 136, 112), (33, 136, 576)])
def test_reference_gemm_nt(m: int, n: int, k: int, b_scales: str) -> None:
    p = random_fp8_problem(m, n, k, "cpu", seed=5, b_scales=b_scales)
    a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
    assert sa.stride() == (1, align(m, 4))
    ref = reference_gemm_nt(a, sa, b, sb)
    assert ref.dtype == torch.float64 and ref.shape == (m, n)
    # Independent formula: explicit sum over K blocks of scaled partial products.
    expected = torch.zeros(m, n, dtype=torch.float64)
    for kb in range(ceil_div(k, 128)):
        cols = slice(kb * 128, min(k, kb * 128 + 128))
        part = a[:, cols].double() @ b[:, cols].double().t()
        sb_rows = sb[:, kb].double() if b_scales == "1x128" else sb[:, kb].double().repeat_interleave(128)[:n]
        expected += part * sa[:, kb].double()[:, None] * sb_rows[None, :]
    torch.testing.assert_close(ref, expected, rtol=1e-12, atol=1e-12)


def test_reference_rejects_bad_sb() -> None:
    p = random_fp8_problem(4, 256, 128, "cpu", seed=0)
    with pytest.raises(ValueError, match=r"sb must have shape"):
        reference_gemm_nt(p["a"], p["sa"], p["b"], torch.ones(3, 1))


def test_random_problem_is_seeded_and_spread() -> None:
    p1 = random_fp8_problem(64, 256, 512, "cpu", seed=7)
    p2 = random_fp8_problem(64, 256, 512, "cpu", seed=7)
    p3 = random_fp8_problem(64, 256, 512, "cpu", seed=8)
    assert all(torch.equal(p1[key].view(torch.uint8) if p1[key].dtype == torch.float8_e4m3fn else p1[key],
                           p2[key].view(torch.uint8) if p2[key].dtype == torch.float8_e4m3fn else p2[key])
               for key in ("a", "sa", "b", "sb"))
    assert not torch.equal(p1["sa"], p3["sa"])
    assert p1["a"].dtype == torch.float8_e4m3fn and p1["b"].dtype == torch.float8_e4m3fn
    assert p1["sb"].shape == (2, 4)
    # Row magnitudes spread over more than an order of magnitude.
    row_scale = p1["sa"].amax(dim=1)
    assert math.log10(row_scale.max() / row_scale.min()) > 1.0
