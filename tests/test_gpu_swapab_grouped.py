"""GPU tests of the swap-AB kernel serving the masked and offset layouts (issue 4: decode-
sized groups), against the float64 reference group by group.

Each swap-AB config is forced (every token tile, 64- and 128-row weight tiles, canonical and
row-major activation scales) with and without a K split, on groups that are empty, of one
row, unaligned, larger than the token tile (several passes over the weights) and clamped
from out-of-range device counts. Outputs are poisoned: rows of a group must be written and
right, every other row must keep the poison. Rows past a group's end hold NaN in `a` and its
scales (they share the token tile with valid rows and must not leak into them).
"""

from __future__ import annotations

import functools
import random

import pytest
import torch

from gpu_utils import check_valid_rows, clamped_offset_bounds, requires_hopper, warm_up_outside_capture

import fp8gemm
from fp8gemm.testing import (
    forced_swapab,
    random_fp8_activations,
    random_fp8_weights,
    reference_gemm_nt,
    row_major_sa,
)

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5
POISON = 12345.0
_check_rows = functools.partial(check_valid_rows, poison=POISON, max_diff=MAX_DIFF)


def _configs() -> list[tuple[int, str]]:
    """(index, label) of every grouped swap-AB config."""
    out = []
    for i, line in enumerate(fp8gemm.swapab_kernel_grid().splitlines()):
        if "layout=grouped" not in line:
            continue
        tok, rows, ctas = (int(line.split(f"{key}=")[1].split()[0]) for key in ("tok", "rows", "ctas_per_sm"))
        sa = "row" if "sa=row" in line else "can"
        out.append((i, f"t{tok}r{rows}c{ctas}{sa}"))
    return out


CONFIGS = _configs()


def _row_major(case_label: str) -> bool:
    return case_label.endswith("row")


def _poisoned(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.full(shape, POISON, dtype=torch.bfloat16, device="cuda")


_clamped_bounds = clamped_offset_bounds


# Small N and K that are not multiples of the tiles: 200 columns (a partial 64-row weight
# tile), 656 = 5 K blocks and a partial one.
N, K = 200, 656


@pytest.mark.parametrize("split", [1, 3])
@pytest.mark.parametrize("index,label", CONFIGS, ids=[c[1] for c in CONFIGS])
def test_masked_forced(index: int, label: str, split: int) -> None:
    g, mmax = 6, 70  # groups of up to 70 rows: two or more passes for every token tile
    a, sa = random_fp8_activations((g, mmax, K), seed=index * 7 + split)
    b, sb = random_fp8_weights(g, N, K, seed=index * 7 + split + 100)
    counts = [mmax, 0, 1, 37, -5, 1_000_000]  # full, empty, one row, unaligned, clamped both ways
    valid = [min(max(c, 0), mmax) for c in counts]
    for gi, c in enumerate(valid):  # NaN past each group's valid rows
        a.view(torch.uint8)[gi, c:] = 0x7F
        sa[gi, c:] = float("nan")
    sa_in = row_major_sa(sa) if _row_major(label) else sa
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")
    out = _poisoned((g, mmax, N))
    with forced_swapab(index, split):
        fp8gemm.m_grouped_gemm_nt_masked_out(a, sa_in, b, sb, masked_m, out, expected_m=8)
    torch.cuda.synchronize()
    for gi, c in enumerate(valid):
        _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"{label} group {gi}")
        assert (out[gi, c:] == POISON).all(), f"{label} group {gi}: rows past masked_m were written"


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("split", [1, 2])
@pytest.mark.parametrize("index,label", CONFIGS, ids=[c[1] for c in CONFIGS])
def test_offset_forced(index: int, label: str, split: int, dtype: torch.dtype) -> None:
    # Gaps before the first group and after the last, a decreasing entry, an empty group,
    # a group of one row, groups starting on odd rows and one longer than a 64-token tile.
    offsets = [3, 4, 21, 21, 15, 111, 190, 500]
    g, m = len(offsets) - 1, 200
    a, sa = random_fp8_activations((m, K), seed=index * 11 + split)
    b, sb = random_fp8_weights(g, N, K, seed=index * 11 + split + 100)
    bounds = _clamped_bounds(offsets, m)
    written = torch.zeros(m, dtype=torch.bool)
    for gi in range(g):
        written[bounds[gi] : bounds[gi + 1]] = True
    idle = (~written).nonzero().flatten().cuda()
    a.view(torch.uint8)[idle] = 0x7F  # rows of no group: NaN
    sa[idle] = float("nan")
    sa_in = row_major_sa(sa) if _row_major(label) else sa
    out = _poisoned((m, N))
    with forced_swapab(index, split):
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa_in, b, sb, torch.tensor(offsets, dtype=dtype, device="cuda"), out,
                                             expected_m=16)
    torch.cuda.synchronize()
    for gi in range(g):
        r = slice(bounds[gi], bounds[gi + 1])
        _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"{label} group {gi}")
    assert (out[~written.cuda()] == POISON).all(), f"{label}: a row outside every group was written"


# ---------------------------------------------------------------- the heuristic's path

DECODE_OFFSET = [(2, 16, 4096, 7168), (4, 16, 2112, 7168), (4, 32, 4096, 2048), (9, 8, 512, 1024)]


@pytest.mark.parametrize("g,e,n,k", DECODE_OFFSET, ids=str)
def test_offset_decode_shapes_take_swap_ab_and_match(g: int, e: int, n: int, k: int) -> None:
    assert fp8gemm.select_config("m_grouped_gemm_nt_offset", e, n, k, num_groups=g)["swap_ab"]
    rnd = random.Random(g * e)
    sizes = [max(0, round(e * rnd.uniform(0.75, 1.25))) for _ in range(g)]
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    m = bounds[-1]
    a, sa = random_fp8_activations((m, k), seed=g + e)
    b, sb = random_fp8_weights(g, n, k, seed=g + e + 1)
    for sa_in, what in ((sa, "canonical"), (row_major_sa(sa), "row-major")):
        out = _poisoned((m, n))
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa_in, b, sb, torch.tensor(bounds, dtype=torch.int32, device="cuda"),
                                             out, expected_m=e)
        for gi in range(g):
            r = slice(bounds[gi], bounds[gi + 1])
            _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"{what} group {gi}")


@pytest.mark.parametrize("g,e,n,k", [(2, 16, 4096, 7168), (8, 4, 2112, 7168)], ids=str)
def test_masked_decode_shapes_take_swap_ab_and_match(g: int, e: int, n: int, k: int) -> None:
    assert fp8gemm.select_config("m_grouped_gemm_nt_masked", e, n, k, num_groups=g)["swap_ab"]
    mmax = e + e // 4
    a, sa = random_fp8_activations((g, mmax, k), seed=g * 3 + e)
    b, sb = random_fp8_weights(g, n, k, seed=g * 3 + e + 1)
    counts = [random.Random(gi).randint(0, mmax) for gi in range(g)]
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")
    out = fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, e)
    for gi, c in enumerate(counts):
        _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"group {gi}")


def test_offset_decode_loop_in_cuda_graph_swap_ab() -> None:
    """Captured once on the swap-AB path, replayed with new offsets (including a group past
    the token tile, which takes a second pass) and new activations."""
    g, e, n, k = 4, 16, 2112, 7168
    m = 96
    a, sa = random_fp8_activations((m, k), seed=81)
    b, sb = random_fp8_weights(g, n, k, seed=82)
    offsets = torch.tensor([0, 16, 32, 48, 64], dtype=torch.int32, device="cuda")
    out = _poisoned((m, n))
    warm_up_outside_capture(lambda: fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, e))
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, e)
    rnd = random.Random(3)
    for step in range(4):
        cuts = sorted(rnd.randint(0, m) for _ in range(g - 1))
        bounds = [0, *cuts, m if step % 2 else rnd.randint(0, m)]
        bounds[-1] = max(bounds[-1], bounds[-2])
        offsets.copy_(torch.tensor(bounds, dtype=torch.int32))
        new_a, new_sa = random_fp8_activations((m, k), seed=90 + step)
        a.copy_(new_a)
        sa.copy_(new_sa)
        out.fill_(POISON)
        graph.replay()
        torch.cuda.synchronize()
        written = torch.zeros(m, dtype=torch.bool)
        for gi in range(g):
            r = slice(bounds[gi], bounds[gi + 1])
            written[r] = True
            _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"step {step} group {gi}")
        assert (out[~written.cuda()] == POISON).all(), f"step {step}: a row outside every group was written"


def test_swap_ab_off_keeps_grouped_on_the_1d2d_kernel() -> None:
    fp8gemm.set_swap_ab(False)
    try:
        assert not fp8gemm.select_config("m_grouped_gemm_nt_offset", 16, 4096, 7168, num_groups=2)["swap_ab"]
    finally:
        fp8gemm.set_swap_ab(True)
