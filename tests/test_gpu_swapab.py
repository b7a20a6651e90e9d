"""GPU tests of the swap-AB decode path of gemm_nt (issue 4) against the float64 reference.

Every test needs an sm_90 GPU and the native library; otherwise it is skipped with a reason.
Outputs are poisoned with NaN before each call, so an element the kernel never writes fails
the comparison. Config selection without a GPU: test_swapab_cpu.py.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from gpu_utils import expected_dense_row_major_copies, requires_hopper, warm_up_outside_capture
from gpu_utils import sa_relayouts as _relayouts
from shapes import shape_id

import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import calc_diff, forced_swapab, random_fp8_problem, reference_gemm_nt, row_major_sa

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5  # SPEC.md
SWAP_M = (1, 2, 7, 8, 15, 16, 31, 33, 63, 64)
# Multiples of 8 that are not multiples of 64 or 128 (a partial weight tile), and full ones.
SWAP_N = (136, 200, 2112, 4096)
# Multiples of 16 below and past 128 that are not multiples of 128 (a partial K block).
SWAP_K = (16, 112, 576, 2064, 7168)


def _shapes() -> list[tuple[int, int, int]]:
    """Every (M, N) pair, K rotating through SWAP_K; half the pairs again with another K."""
    pairs = list(itertools.product(SWAP_M, SWAP_N))
    shapes = [(m, n, SWAP_K[i % len(SWAP_K)]) for i, (m, n) in enumerate(pairs)]
    shapes += [(m, n, SWAP_K[(i + 2) % len(SWAP_K)]) for i, (m, n) in enumerate(pairs) if i % 2 == 0]
    return shapes


SHAPES = _shapes()
FORCED_SHAPES = [(1, 2112, 576), (33, 200, 2064), (64, 136, 7168), (15, 4096, 112)]


def _problem(shape: tuple[int, int, int], salt: int = 0) -> dict[str, torch.Tensor]:
    m, n, k = shape
    return random_fp8_problem(m, n, k, "cuda", seed=(m * 1_000_003 + n * 1009 + k) * 13 + salt)


def _args(p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return p["a"], p["sa"], p["b"], p["sb"]


def _check_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert not torch.isnan(out).any(), "output has NaN (an element was never written?)"
    diff = calc_diff(out, ref)
    assert diff < MAX_DIFF, f"calc_diff = {diff:.3e} >= {MAX_DIFF}"


def _run_poisoned(p: dict[str, torch.Tensor], out_dtype: torch.dtype) -> torch.Tensor:
    m, n = p["a"].shape[0], p["b"].shape[0]
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    fp8gemm.gemm_nt_out(*_args(p), out)
    return out


def _heuristic_index(m: int, out: str) -> int:
    """The config the heuristic would take for m tokens: the smallest token tile that holds
    them, 64 weight rows, two CTAs per SM (the largest tile when none holds them)."""
    best = None
    for i, line in enumerate(fp8gemm.swapab_kernel_grid().splitlines()):
        if (f"out={out}" not in line or "rows=64 " not in line or "ctas_per_sm=2" not in line or "sa=row" in line
                or "layout=grouped" in line):
            continue
        tok = int(line.split("tok=")[1].split()[0])
        key = (tok < m, tok if tok >= m else -tok)
        if best is None or key < best[0]:
            best = (key, i)
    assert best is not None
    return best[1]


def _swap_configs(out: str) -> list[int]:
    """The configs for canonical activation scales writing `out`."""
    lines = fp8gemm.swapab_kernel_grid().splitlines()
    return [i for i, line in enumerate(lines)
            if f"out={out}" in line and "sa=canonical" in line and "layout=grouped" not in line]


def _row_major_sa(sa: torch.Tensor, pad_to: int = 4) -> torch.Tensor:
    """The same scales as row-major [M, Kb], rows padded to a multiple of `pad_to` floats."""
    return row_major_sa(sa, -(-sa.shape[1] // pad_to) * pad_to)


def _forced_ids() -> list[tuple[int, int]]:
    """(config index, K split) for every compiled dense swap-AB config and splits 1, 2, 3, 8
    (the grouped configs: test_gpu_swapab_grouped.py)."""
    if not _native.is_loaded():
        return []
    lines = fp8gemm.swapab_kernel_grid().splitlines()
    return [(i, s) for i, line in enumerate(lines) if "layout=grouped" not in line for s in (1, 2, 3, 8)]


def _forced_id(case: tuple[int, int]) -> str:
    i, s = case
    line = fp8gemm.swapab_kernel_grid().splitlines()[i]
    tok, rows, out, sa = (line.split(f"{key}=")[1].split()[0] for key in ("tok", "rows", "out", "sa"))
    return f"cfg{i}-t{tok}-r{rows}-{out}-sa_{sa}-split{s}"


# ---------------------------------------------------------------- correctness, heuristic path


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
def test_swapab_matches_reference(shape: tuple[int, int, int], out_dtype: torch.dtype) -> None:
    """The heuristic's swap-AB config (forced with the heuristic's split where the
    crossover hands the shape to the 1D2D kernel, so every shape runs swap-AB)."""
    m, n, k = shape
    out_name = "fp32" if out_dtype == torch.float32 else "bf16"
    p = _problem(shape)
    cfg = fp8gemm.select_config("gemm_nt", m, n, k, out_dtype=out_dtype)
    if cfg["swap_ab"]:
        out = _run_poisoned(p, out_dtype)
    else:
        assert (m > 16 and k < 4096) or (m > 32 and n > 4096), f"M = {m} must take the swap-AB path: {cfg}"
        with forced_swapab(_heuristic_index(m, out_name), 0):
            assert fp8gemm.select_config("gemm_nt", m, n, k, out_dtype=out_dtype)["swap_ab"]
            out = _run_poisoned(p, out_dtype)
    _check_close(out, reference_gemm_nt(*_args(p)))


def _assert_swap(shape: tuple[int, int, int], out_dtype: torch.dtype = torch.bfloat16) -> None:
    cfg = fp8gemm.select_config("gemm_nt", *shape, out_dtype=out_dtype)
    assert cfg["swap_ab"], f"{shape} should take the swap-AB path: {cfg}"


@pytest.mark.parametrize("shape", [(1, 2112, 7168), (33, 200, 4112), (64, 4096, 4096)], ids=shape_id)
def test_swapab_functional_op(shape: tuple[int, int, int]) -> None:
    _assert_swap(shape)
    p = _problem(shape)
    out = fp8gemm.gemm_nt(*_args(p))
    assert out.shape == shape[:2] and out.dtype == torch.bfloat16 and out.is_contiguous()
    _check_close(out, reference_gemm_nt(*_args(p)))


@pytest.mark.parametrize("shape", [(1, 136, 16), (7, 2112, 2064), (33, 200, 7168), (64, 4096, 4096)], ids=shape_id)
def test_swapab_accumulate(shape: tuple[int, int, int]) -> None:
    _assert_swap(shape, torch.float32)
    p = _problem(shape)
    ref = reference_gemm_nt(*_args(p))
    gen = torch.Generator(device="cuda").manual_seed(5)
    out0 = torch.randn(shape[:2], generator=gen, device="cuda") * ref.abs().mean().float()
    out = out0.clone()
    fp8gemm.gemm_nt_out(*_args(p), out, accumulate=True)
    _check_close(out, out0.double() + ref)


@pytest.mark.parametrize("shape", [(1, 136, 576), (33, 200, 4112), (63, 2112, 7168)], ids=shape_id)
def test_swapab_never_writes_rows_past_m(shape: tuple[int, int, int]) -> None:
    """out is the first M rows of a larger buffer: the rows after it must keep their bytes."""
    _assert_swap(shape, torch.float32)
    m, n, _ = shape
    p = _problem(shape)
    buf = torch.full((m + 16, n), 12345.0, dtype=torch.float32, device="cuda")
    out = buf[:m]
    out.fill_(float("nan"))
    fp8gemm.gemm_nt_out(*_args(p), out)
    torch.cuda.synchronize()
    assert torch.all(buf[m:] == 12345.0), "rows past M were written"
    _check_close(out, reference_gemm_nt(*_args(p)))


# ---------------------------------------------------------------- every compiled config forced


@pytest.mark.parametrize("shape", FORCED_SHAPES, ids=shape_id)
@pytest.mark.parametrize("case", _forced_ids(), ids=_forced_id)
def test_every_swapab_config(case: tuple[int, int], shape: tuple[int, int, int]) -> None:
    """Each config with splits 1, 2, 3 (uneven K slices) and 8 (K slices of zero blocks
    where K < 8 * 128); M past the token tile runs several token tiles along grid y."""
    index, split = case
    line = fp8gemm.swapab_kernel_grid().splitlines()[index]
    out_dtype = torch.float32 if "out=fp32" in line else torch.bfloat16
    p = _problem(shape)
    ref = reference_gemm_nt(*_args(p))
    m, n, k = shape
    row_major = "sa=row" in line
    if row_major:
        # These configs serve row-major scales (rows 16-byte aligned, >= 4 K blocks) in place:
        # no relayout copy means this config ran (any other path would copy first).
        if -(-k // 128) < 4:
            pytest.skip("row-major scales need at least 4 K blocks")
        p = dict(p, sa=_row_major_sa(p["sa"]))
        before = _relayouts()
    with forced_swapab(index, split):
        if not row_major:
            cfg = fp8gemm.select_config("gemm_nt", m, n, k, out_dtype=out_dtype)
            assert cfg["swap_ab"] and cfg["cluster"] == split, cfg
        out = _run_poisoned(p, out_dtype)
        if out_dtype == torch.float32:
            acc = torch.ones(shape[:2], device="cuda")
            fp8gemm.gemm_nt_out(*_args(p), acc, accumulate=True)
    if row_major:
        assert _relayouts() == before, "the row-major scales were copied: the forced config did not run"
    _check_close(out, ref)
    if out_dtype == torch.float32:
        _check_close(acc, ref + 1.0)


# ---------------------------------------------------------------- properties


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", [(64, 2112, 7168), (1, 7168, 16384), (16, 24576, 1536)], ids=shape_id)
def test_swapab_bitwise_deterministic(shape: tuple[int, int, int], out_dtype: torch.dtype) -> None:
    p = _problem(shape)
    assert fp8gemm.select_config("gemm_nt", *shape, out_dtype=out_dtype)["swap_ab"]
    first = fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype)
    for _ in range(5):
        assert torch.equal(fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype), first)
    with forced_swapab(_swap_configs("fp32" if out_dtype == torch.float32 else "bf16")[-1], 8):
        split8 = fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype)
        for _ in range(5):
            assert torch.equal(fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype), split8)


def _check_graph_replay_sees_new_data(shape: tuple[int, int, int], salt: int, sa_layout) -> None:
    """Capture gemm_nt_out with the scales in `sa_layout(sa)`, refill every input in place,
    replay: the result is the new problem's."""
    first, second = _problem(shape, salt=salt), _problem(shape, salt=salt + 1)
    a, b, sb = (first[key].clone() for key in ("a", "b", "sb"))
    sa = sa_layout(first["sa"])
    out = torch.empty(shape[:2], dtype=torch.bfloat16, device="cuda")
    warm_up_outside_capture(lambda: fp8gemm.gemm_nt_out(a, sa, b, sb, out))
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.gemm_nt_out(a, sa, b, sb, out)
    for dst, src in zip((a, sa, b, sb), _args(second)):
        dst.copy_(src)
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    _check_close(out, reference_gemm_nt(*_args(second)))


@pytest.mark.parametrize("shape", [(4, 2112, 7168), (33, 200, 4112)], ids=shape_id)
def test_swapab_cuda_graph_replay_sees_new_data(shape: tuple[int, int, int]) -> None:
    _assert_swap(shape)
    _check_graph_replay_sees_new_data(shape, 3, fp8gemm.get_col_major_tma_aligned_tensor)


@pytest.mark.parametrize("layout", ["sa_row_major", "sa_col_major_unpadded", "sa_strided_view"])
@pytest.mark.parametrize("shape", [(7, 200, 576), (33, 2112, 4112)], ids=shape_id)
def test_swapab_non_canonical_sa(shape: tuple[int, int, int], layout: str) -> None:
    _assert_swap(shape)
    p = _problem(shape)
    expected = fp8gemm.gemm_nt(*_args(p))
    sa = p["sa"]
    if layout == "sa_row_major":
        q = sa.contiguous()
    elif layout == "sa_col_major_unpadded":
        q = sa.t().contiguous().t()
    else:
        buf = torch.full((sa.shape[0], 2 * sa.shape[1]), float("nan"), device="cuda")
        q = buf[:, ::2]
        q.copy_(sa)
    if q.stride() == sa.stride():
        pytest.skip(f"{layout} is the canonical layout for this shape")
    out = fp8gemm.gemm_nt(p["a"], q, p["b"], p["sb"])
    assert torch.equal(out, expected), "same scale values in another layout must give the same result"


@pytest.mark.parametrize("shape", [(8, 2112, 7168), (64, 4096, 4096)], ids=shape_id)
def test_swap_ab_off_and_on_agree_with_reference(shape: tuple[int, int, int]) -> None:
    _assert_swap(shape)
    p = _problem(shape)
    ref = reference_gemm_nt(*_args(p))
    on = _run_poisoned(p, torch.bfloat16)
    fp8gemm.set_swap_ab(False)
    try:
        assert not fp8gemm.select_config("gemm_nt", *shape)["swap_ab"]
        off = _run_poisoned(p, torch.bfloat16)
    finally:
        fp8gemm.set_swap_ab(True)
    _check_close(on, ref)
    _check_close(off, ref)


def test_swapab_with_pdl_chain() -> None:
    """Accumulating calls back to back under programmatic dependent launch: each must see
    the previous one's result (the kernel waits on the grid dependency before its loads)."""
    _assert_swap((16, 2112, 2048), torch.float32)
    p = _problem((16, 2112, 2048))
    ref = reference_gemm_nt(*_args(p))
    out = torch.zeros(16, 2112, device="cuda")
    fp8gemm.set_pdl(True)
    try:
        for _ in range(8):
            fp8gemm.gemm_nt_out(*_args(p), out, accumulate=True)
    finally:
        fp8gemm.set_pdl(False)
    _check_close(out, 8 * ref)


def test_batch_invariant_mode_rows_match_large_m() -> None:
    """With set_batch_invariant(True) the decode path stands aside: rows 0..7 computed with
    M = 8 equal those rows of an M = 300 problem bitwise."""
    p = _problem((300, 2112, 2048))
    a, sa, b, sb = _args(p)
    fp8gemm.set_batch_invariant(True)
    try:
        small = fp8gemm.gemm_nt(a[:8].contiguous(), fp8gemm.get_col_major_tma_aligned_tensor(sa[:8].contiguous()), b, sb)
        big = fp8gemm.gemm_nt(a, sa, b, sb)
    finally:
        fp8gemm.set_batch_invariant(False)
    assert torch.equal(small, big[:8])


def test_sm_limit_keeps_the_1d2d_kernel_and_stays_correct() -> None:
    p = _problem((4, 2112, 2048))
    fp8gemm.set_num_sms(66)
    try:
        out = _run_poisoned(p, torch.bfloat16)
    finally:
        fp8gemm.set_num_sms(None)
    _check_close(out, reference_gemm_nt(*_args(p)))


# ---------------------------------------------------------------- row-major activation scales


ROW_MAJOR_SHAPES = [(1, 2112, 7168), (4, 4096, 7168), (8, 7168, 2048), (16, 24576, 1536), (31, 2112, 7168),
                    (33, 200, 4112), (64, 4096, 4096), (2, 136, 576), (4, 24576, 1536), (64, 7168, 16384)]


@pytest.mark.parametrize("pad_to", [1, 4, 8], ids=lambda v: f"rows_pad{v}")
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", ROW_MAJOR_SHAPES, ids=shape_id)
def test_swapab_reads_row_major_sa_in_place(shape: tuple[int, int, int], out_dtype: torch.dtype, pad_to: int) -> None:
    """Row-major [M, Kb] scales (what most quantizers write) are read in place, without a
    relayout copy, when their rows are 16-byte aligned; otherwise they are copied. Either
    way the result matches the reference."""
    m, n, k = shape
    p = _problem(shape)
    sa = _row_major_sa(p["sa"], pad_to)
    assert sa.stride(1) == 1 and torch.equal(sa, p["sa"])
    # Read in place by swap-AB where that measured no slower than copying (csrc/swapab.cpp:
    # K >= 4096, or M <= 4 at any K), and by the 1D2D kernels wherever they serve the shape.
    expected = expected_dense_row_major_copies(m, n, k, out_dtype, sa)
    before = _relayouts()
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    fp8gemm.gemm_nt_out(p["a"], sa, p["b"], p["sb"], out)
    copies = _relayouts() - before
    assert copies == expected, (copies, expected)
    _check_close(out, reference_gemm_nt(*_args(p)))
    if out_dtype == torch.bfloat16 and copies == 0:
        # The same kernel choice and summation order as with canonical scales: equal bits.
        assert torch.equal(out, fp8gemm.gemm_nt(*_args(p)))


def test_swapab_row_major_sa_in_a_cuda_graph() -> None:
    _check_graph_replay_sees_new_data((4, 2112, 7168), 5, _row_major_sa)
