"""Robustness on an H100: concurrency, batch invariance, the regression catalogue of shapes
that broke other libraries, outputs past 2^31 elements, and Inf / NaN propagation."""

from __future__ import annotations

import threading

import pytest
import torch

from gpu_utils import requires_hopper

import fp8gemm
from fp8gemm import _native
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8
from fp8gemm.testing import (
    calc_diff,
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_problem,
    random_fp8_weights,
    reference_gemm_nt,
)

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5


def _args(p: dict) -> tuple:
    return p["a"], p["sa"], p["b"], p["sb"]


# ---------------------------------------------------------------- concurrency


def _dense_job(step: int) -> list:
    m, n, k = [(1, 2112, 7168), (129, 4096, 576), (300, 256, 1024), (64, 7168, 2048)][step % 4]
    p = random_fp8_problem(m, n, k, seed=step)
    ref = reference_gemm_nt(*_args(p))
    out32 = torch.zeros(m, n, device="cuda")
    fp8gemm.gemm_nt_out(*_args(p), out32, accumulate=True)
    return [("gemm_nt", fp8gemm.gemm_nt(*_args(p)), ref), ("gemm_nt_out acc", out32, ref)]


def _grouped_job(step: int) -> list:
    g, n, k = 3, [2112, 256, 512][step % 3], [576, 1024, 384][step % 3]
    b, sb = random_fp8_weights(g, n, k, seed=50 + step)
    sizes = [1 + step % 5, 130, 0]
    idx = contiguous_m_indices(sizes)
    a, sa = random_fp8_activations((idx.numel(), k), seed=60 + step)
    out = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
    checks = [(f"contiguous g{i}", out[s : s + c], reference_gemm_nt(a[s : s + c], sa[s : s + c], b[i], sb[i]))
              for i, (s, c) in enumerate(zip((0, 128, 384), sizes)) if c]
    a3, sa3 = random_fp8_activations((g, 20, k), seed=70 + step)
    counts = [20, step % 7, 3]
    out3 = fp8gemm.m_grouped_gemm_nt_masked(a3, sa3, b, sb, torch.tensor(counts, dtype=torch.int32, device="cuda"))
    checks += [(f"masked g{i}", out3[i, :c], reference_gemm_nt(a3[i, :c], sa3[i, :c], b[i], sb[i]))
               for i, c in enumerate(counts) if c]
    bounds = [0, 5, 5 + step, 40]
    a2, sa2 = random_fp8_activations((40, k), seed=80 + step)
    out2 = fp8gemm.m_grouped_gemm_nt_offset(a2, sa2, b, sb, torch.tensor(bounds, dtype=torch.int32, device="cuda"))
    checks += [(f"offset g{i}", out2[bounds[i] : bounds[i + 1]],
                reference_gemm_nt(a2[bounds[i] : bounds[i + 1]], sa2[bounds[i] : bounds[i + 1]], b[i], sb[i]))
               for i in range(g) if bounds[i + 1] > bounds[i]]
    return checks


def _check_into(errors: list, label: str, out: torch.Tensor, ref: torch.Tensor) -> None:
    diff = calc_diff(out, ref)
    if torch.isnan(out).any() or not diff < MAX_DIFF:
        errors.append(f"{label}: calc_diff {diff:.3e}")


def _run_threads(worker, count: int, *args) -> None:
    """worker(t, *args) for t < count, on count threads at once; returns when all are done."""
    threads = [threading.Thread(target=worker, args=(t, *args)) for t in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_eight_threads_different_ops_streams_and_shapes() -> None:
    errors: list[str] = []

    def worker(tid: int) -> None:
        try:
            stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                for step in range(4):
                    job = _dense_job if (tid + step) % 2 == 0 else _grouped_job
                    for name, out, ref in job(tid * 10 + step):
                        stream.synchronize()
                        _check_into(errors, f"thread {tid} step {step} {name}", out, ref)
        except Exception as exc:
            errors.append(f"thread {tid}: {type(exc).__name__}: {exc}")

    _run_threads(worker, 8)
    assert not errors, "\n".join(errors[:20])


@pytest.mark.parametrize("split", [0, 1], ids=["heuristic_split", "split1"])
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=["bf16", "fp32"])
def test_decode_threads_quantizing_on_their_own_streams(split: int, out_dtype: torch.dtype) -> None:
    """Eight threads, each quantizing its own decode problem on its own stream and calling
    the op right away, twenty rounds: the swap-AB kernels run beside the threads' torch
    kernels. Their activation-scale stages were released before the scale loads had
    returned, and under that load a refill overwrote them first (40-60% of such rounds
    gave a wrong (1, 2112, 7168) result; benchmarks/NOTES.md #49)."""
    grid = fp8gemm.swapab_kernel_grid().strip().splitlines()
    dtype = "bf16" if out_dtype == torch.bfloat16 else "fp32"
    tok8 = [i for i, line in enumerate(grid) if "tok=8 rows=64 " in line and f"out={dtype}" in line
            and "sa=canonical" in line and "ctas_per_sm=2" in line and "layout=grouped" not in line]
    assert tok8, "no 8-token swap-AB config in this build"
    if split:
        _native.lib().fp8gemm_force_swapab(tok8[0], split)
    errors: list[str] = []

    def worker(tid: int, rnd: int) -> None:
        try:
            stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                p = random_fp8_problem(1, 2112, 7168, seed=rnd * 8 + tid)
                ref = reference_gemm_nt(*_args(p))
                out = fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype)
                stream.synchronize()
                _check_into(errors, f"round {rnd} thread {tid}", out, ref)
        except Exception as exc:
            errors.append(f"round {rnd} thread {tid}: {type(exc).__name__}: {exc}")

    try:
        assert fp8gemm.select_config("gemm_nt", 1, 2112, 7168, out_dtype=out_dtype)["swap_ab"]
        for rnd in range(20):
            _run_threads(worker, 8, rnd)
    finally:
        _native.lib().fp8gemm_force_swapab(-1, 0)
    assert not errors, "\n".join(errors[:20])


# ---------------------------------------------------------------- batch invariance


def _dense_configs(out: str) -> list[int]:
    lines = fp8gemm.kernel_grid().splitlines()
    # (canonical scales: a row-major twin's results equal its canonical config's bitwise,
    # tests/test_gpu_row_major_sa.py; not the stream-K configs, whose K split depends on M:
    # batch-invariant mode never picks them, tests/test_ops_cpu.py)
    return [i for i, line in enumerate(lines)
            if "layout=dense" in line and f"out={out}" in line and "sa=row" not in line and "stream_k=1" not in line]


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
def test_batch_invariant_rows_across_m_and_every_config(out_dtype: torch.dtype) -> None:
    """Rows 0..7 of a 4096-row problem, of a 300-row problem holding them plus other rows,
    and of an 8-row problem holding only them: bitwise equal, under every compiled config."""
    n, k = 2048, 1024
    big = random_fp8_problem(4096, n, k, seed=91)
    b, sb = big["b"], big["sb"]
    a, sa = big["a"], big["sa"]
    fp8gemm.set_batch_invariant(True)
    assert fp8gemm.get_batch_invariant()
    try:
        baseline = fp8gemm.gemm_nt(a, sa, b, sb, out_dtype=out_dtype)[:8]
        outs = {}
        for idx in [-1, *_dense_configs("fp32" if out_dtype == torch.float32 else "bf16")]:
            _native.lib().fp8gemm_force_kernel(idx)
            for m in (8, 300, 4096):
                a_m = a[:m].contiguous()
                sa_m = fp8gemm.get_col_major_tma_aligned_tensor(sa[:m].contiguous())
                outs[(idx, m)] = fp8gemm.gemm_nt(a_m, sa_m, b, sb, out_dtype=out_dtype)[:8]
    finally:
        _native.lib().fp8gemm_force_kernel(-1)
        fp8gemm.set_batch_invariant(False)
    assert calc_diff(baseline, reference_gemm_nt(a[:8], sa[:8], b, sb)) < MAX_DIFF
    differing = [key for key, o in outs.items() if not torch.equal(o, baseline)]
    assert not differing, f"rows differ bitwise for (config index, M) = {differing[:10]}"


def test_set_batch_invariant_rejects_non_bool() -> None:
    with pytest.raises(TypeError, match="set_batch_invariant"):
        fp8gemm.set_batch_invariant(1)  # type: ignore[arg-type]


# ---------------------------------------------------------------- regression catalogue


@pytest.mark.parametrize("shape", [(576, 16, 7168), (32, 8192, 8192), (128, 7168, 1152), (64, 7168, 576)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
def test_shapes_that_broke_other_libraries(shape: tuple[int, int, int], out_dtype: torch.dtype) -> None:
    p = random_fp8_problem(*shape, seed=sum(shape))
    out = torch.full(shape[:2], float("nan"), dtype=out_dtype, device="cuda")
    fp8gemm.gemm_nt_out(*_args(p), out)
    assert not torch.isnan(out).any()
    assert calc_diff(out, reference_gemm_nt(*_args(p))) < MAX_DIFF


def test_all_zero_input_block_gives_zeros_not_nan() -> None:
    x = torch.randn(256, 512, device="cuda", dtype=torch.bfloat16)
    x[:, 128:256] = 0  # one all-zero 128-column block in every row
    x[7] = 0  # and an all-zero row
    w = torch.randn(384, 512, device="cuda", dtype=torch.bfloat16)
    w[128:256, :128] = 0  # an all-zero 128x128 weight block
    a, sa = per_token_cast_to_fp8(x)
    b, sb = per_block_cast_to_fp8(w)
    assert (sa > 0).all() and (sb > 0).all(), "a zero scale would turn 0/0 into NaN"
    out = fp8gemm.gemm_nt(a, sa, b, sb)
    assert not torch.isnan(out).any()
    assert (out[7] == 0).all()
    assert calc_diff(out, reference_gemm_nt(a, sa, b, sb)) < MAX_DIFF


def test_output_past_2_pow_31_elements() -> None:
    """M = 65536, N = 36864: 2.4e9 output elements; sampled rows against the reference."""
    m, n, k = 65536, 36864, 128
    p = random_fp8_problem(m, n, k, seed=3)
    out = fp8gemm.gemm_nt(*_args(p))
    torch.cuda.synchronize()
    assert out.numel() > 2**31
    rows = torch.tensor([0, 1, 31, 58253, 58254, 58255, m - 1], device="cuda")  # row 58254 straddles 2^31
    ref = reference_gemm_nt(p["a"][rows], p["sa"][rows], p["b"], p["sb"])
    assert calc_diff(out[rows], ref) < MAX_DIFF
    del out
    torch.cuda.empty_cache()


# ---------------------------------------------------------------- Inf and NaN


def test_nan_and_inf_reach_exactly_their_rows_and_columns() -> None:
    m, n, k = 200, 384, 512
    p = random_fp8_problem(m, n, k, seed=8)
    a, sa, b, sb = (t.clone() for t in _args(p))
    a.view(torch.uint8)[3, 100] = 0x7F  # NaN in a: row 3
    sa[10, 2] = float("inf")  # Inf scale of a: row 10 (Inf, or NaN where the product is 0)
    b.view(torch.uint8)[200, 5] = 0xFF  # NaN in b: column 200
    out = fp8gemm.gemm_nt(a, sa, b, sb, out_dtype=torch.float32)
    bad = ~torch.isfinite(out)
    expect = torch.zeros_like(bad)
    expect[3, :] = True
    expect[10, :] = True
    expect[:, 200] = True
    assert torch.equal(bad, expect), f"non-finite at {bad.nonzero()[:10].tolist()} ..."
    assert torch.isnan(out[3]).all() and torch.isnan(out[:, 200]).all()
    clean = torch.ones(m, dtype=torch.bool, device="cuda")
    clean[[3, 10]] = False
    cols = torch.ones(n, dtype=torch.bool, device="cuda")
    cols[200] = False
    ref = reference_gemm_nt(*_args(p))
    assert calc_diff(out[clean][:, cols], ref[clean][:, cols]) < MAX_DIFF
