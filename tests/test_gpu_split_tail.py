"""GPU tests of the tail split (csrc/kernels/sm90_scheduler.cuh): when the last round of
128-row tiles fills at most half the SMs, its tiles run as 64-row halves on twice as many
CTAs, each computed by one warpgroup.

A half computes its rows exactly as the whole tile does, so for every 128-row config of
every layout, forced, on shapes whose tile count leaves such a last round, the result with
the split on must be bitwise the result with it off, and right against the float64
reference; outputs are poisoned first (rows that must not be written keep the poison).
"""

from __future__ import annotations

import pytest
import torch

from gpu_utils import requires_hopper

import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import calc_diff, random_fp8_activations, random_fp8_problem, random_fp8_weights, reference_gemm_nt
from fp8gemm.utils import ceil_div

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5
POISON = 12345.0  # exactly representable in bf16


def _configs(layout: str) -> list[tuple[int, str]]:
    lines = fp8gemm.kernel_grid().strip().splitlines()
    return [(i, line) for i, line in enumerate(lines) if f"layout={layout} " in line and "block_m=128 " in line]


def _field(desc: str, name: str) -> int:
    return int(desc.split(f"{name}=")[1].split()[0])


def _units(desc: str, blocks_m: int, n: int) -> int:
    blocks_n = ceil_div(n, _field(desc, "block_n"))
    if "multicast=a" in desc:
        return blocks_m * (blocks_n // 2)
    if "multicast=b" in desc:
        return (blocks_m // 2) * blocks_n
    return blocks_m * blocks_n


def _split_applies(units: int, desc: str) -> bool:
    """Whether the kernel splits (on 132 SMs): a last round at most half full. Dense grids
    have at most one CTA (pair) per unit; the grouped ones one per SM."""
    rounds_width = 132 // (1 if "multicast=none" in desc else 2)
    if "layout=dense" in desc:
        rounds_width = min(rounds_width, units)
    tail = units % rounds_width
    return 0 < tail and 2 * tail <= rounds_width


def _run_both(idx: int, fn) -> tuple[torch.Tensor, torch.Tensor]:
    """fn() with config idx forced, the split on and then off."""
    lib = _native.lib()
    outs = []
    try:
        lib.fp8gemm_force_kernel(idx)
        for on in (1, 0):
            lib.fp8gemm_set_split_tail(on)
            outs.append(fn())
    finally:
        lib.fp8gemm_set_split_tail(1)
        lib.fp8gemm_force_kernel(-1)
    torch.cuda.synchronize()
    return outs[0], outs[1]


def _check(out: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert not torch.isnan(out).any(), f"{what}: NaN (an element not written?)"
    assert not (out == POISON).any(), f"{what}: rows that must be written were not"
    diff = calc_diff(out, ref)
    assert diff < MAX_DIFF, f"{what}: calc_diff = {diff:.3e}"


@pytest.mark.parametrize("config", _configs("dense"), ids=lambda c: f"cfg{c[0]}")
@pytest.mark.parametrize("rows", [10, 22])
def test_dense_split_is_bitwise_unsplit(config: tuple[int, str], rows: int) -> None:
    idx, desc = config
    bn = _field(desc, "block_n")
    # 10 x 16 tiles, the last row block 100 rows (its second half stores 36), or 22 x 8,
    # the last row block 20 rows (its second half stores none); N cut short.
    m, n = (9 * 128 + 100, 16 * bn - 8) if rows == 10 else (21 * 128 + 20, 8 * bn - 8)
    assert _split_applies(_units(desc, ceil_div(m, 128), n), desc)
    p = random_fp8_problem(m, n, 1040, seed=idx)
    args = (p["a"], p["sa"], p["b"], p["sb"])
    out_dtype = torch.float32 if "out=fp32" in desc else torch.bfloat16

    def run() -> torch.Tensor:
        out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
        fp8gemm.gemm_nt_out(*args, out)
        return out

    split, whole = _run_both(idx, run)
    assert torch.equal(split, whole), f"{desc}: the split result differs from the whole tiles'"
    _check(split, reference_gemm_nt(*args), desc)


@pytest.mark.parametrize("config", _configs("masked"), ids=lambda c: f"cfg{c[0]}")
def test_masked_split_is_bitwise_unsplit(config: tuple[int, str]) -> None:
    idx, desc = config
    bn = _field(desc, "block_n")
    counts, mmax, n, k = [1052, 700, 0], 1100, 12 * bn - 8, 528
    assert _split_applies(_units(desc, sum(ceil_div(c, 128) for c in counts), n), desc)
    g = len(counts)
    a, sa = random_fp8_activations((g, mmax, k), seed=idx)
    b, sb = random_fp8_weights(g, n, k, seed=idx + 1000)
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")

    def run() -> torch.Tensor:
        out = torch.full((g, mmax, n), POISON, dtype=torch.bfloat16, device="cuda")
        fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, expected_m=1024)
        return out

    split, whole = _run_both(idx, run)
    assert torch.equal(split, whole), f"{desc}: the split result differs from the whole tiles'"
    for gi, c in enumerate(counts):
        if c:
            _check(split[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"{desc} group {gi}")
        assert (split[gi, c:] == POISON).all(), f"{desc}: group {gi}: rows past masked_m were written"


@pytest.mark.parametrize("config", _configs("offset"), ids=lambda c: f"cfg{c[0]}")
def test_offset_split_is_bitwise_unsplit(config: tuple[int, str]) -> None:
    idx, desc = config
    bn = _field(desc, "block_n")
    sizes, n, k = [1052, 700, 0, 300], 8 * bn - 8, 400
    assert _split_applies(_units(desc, sum(ceil_div(s, 128) for s in sizes), n), desc)
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    m = bounds[-1]
    a, sa = random_fp8_activations((m, k), seed=idx)
    b, sb = random_fp8_weights(len(sizes), n, k, seed=idx + 1000)
    offsets = torch.tensor(bounds, dtype=torch.int32, device="cuda")

    def run() -> torch.Tensor:
        out = torch.full((m, n), POISON, dtype=torch.bfloat16, device="cuda")
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, expected_m=500)
        return out

    split, whole = _run_both(idx, run)
    assert torch.equal(split, whole), f"{desc}: the split result differs from the whole tiles'"
    for gi in range(len(sizes)):
        r = slice(bounds[gi], bounds[gi + 1])
        if sizes[gi]:
            _check(split[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"{desc} group {gi}")


@pytest.mark.parametrize("config", _configs("contiguous"), ids=lambda c: f"cfg{c[0]}")
def test_contiguous_split_is_bitwise_unsplit(config: tuple[int, str]) -> None:
    from fp8gemm.testing import contiguous_m_indices

    idx, desc = config
    bn = _field(desc, "block_n")
    sizes, n, k = [1000, 300, 600], 10 * bn, 656
    m_indices = contiguous_m_indices(sizes)
    m = m_indices.numel()
    assert _split_applies(_units(desc, m // 128, n), desc)
    a, sa = random_fp8_activations((m, k), seed=idx)
    b, sb = random_fp8_weights(len(sizes), n, k, seed=idx + 1000)

    def run() -> torch.Tensor:
        out = torch.full((m, n), POISON, dtype=torch.bfloat16, device="cuda")
        fp8gemm.m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, m_indices, out)
        return out

    split, whole = _run_both(idx, run)
    assert torch.equal(split, whole), f"{desc}: the split result differs from the whole tiles'"
    start = 0
    for gi, size in enumerate(sizes):
        r = slice(start, start + size)
        _check(split[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"{desc} group {gi}")
        start += ceil_div(size, 128) * 128


def test_split_switch_reads_back() -> None:
    lib = _native.lib()
    assert lib.fp8gemm_get_split_tail() == 1
    lib.fp8gemm_set_split_tail(0)
    try:
        assert lib.fp8gemm_get_split_tail() == 0
    finally:
        lib.fp8gemm_set_split_tail(1)
    assert lib.fp8gemm_get_split_tail() == 1
