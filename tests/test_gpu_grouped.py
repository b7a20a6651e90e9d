"""GPU tests of the M-grouped ops (contiguous, masked, offset) against the float64
reference, group by group.

Outputs are poisoned before each call: rows that must be written are checked against the
reference (a NaN left there fails), rows that must not be written must keep the poison.
Argument checks are in test_bad_inputs.py.
"""

from __future__ import annotations

import functools
import random

import pytest
import torch

from gpu_utils import (
    assert_schema_respected,
    check_valid_rows,
    clamped_offset_bounds,
    requires_hopper,
    warm_up_outside_capture,
)

import fp8gemm
from fp8gemm.quant import per_token_cast_to_fp8
from fp8gemm.testing import (
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_weights,
    reference_gemm_nt,
)
from fp8gemm.utils import ceil_div

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5
SIZES = (0, 1, 3, 64, 127, 128, 129, 500, 4096)
POISON = 12345.0  # exactly representable in bf16, far from any product here


def _poisoned(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.full(shape, POISON, dtype=torch.bfloat16, device="cuda")


def _nan_rows(a: torch.Tensor, sa: torch.Tensor, rows: "torch.Tensor | slice") -> None:
    """Fill rows of a (fp8 NaN, 0x7F) and of its scales with NaN, in place."""
    a.view(torch.uint8)[rows] = 0x7F
    sa[rows] = float("nan")


_check_rows = functools.partial(check_valid_rows, poison=POISON, max_diff=MAX_DIFF)


def _draw_sizes(g: int, seed: int, pool: tuple[int, ...] = SIZES) -> list[int]:
    rnd = random.Random(seed)
    return [rnd.choice(pool) for _ in range(g)]


# ---------------------------------------------------------------- contiguous

CONTIGUOUS_CASES = [
    # (G, N, K, seed): group sizes drawn from SIZES
    (1, 4096, 7168, 1),
    (4, 2112, 576, 2),
    (8, 7168, 2048, 3),
    (37, 256, 336, 4),  # N, K not multiples of 128
    (128, 200, 128, 5),
    (256, 512, 256, 6),
]


def _contiguous_problem(g: int, n: int, k: int, seed: int, sizes: list[int] | None = None):
    sizes = sizes if sizes is not None else _draw_sizes(g, seed)
    m_indices = contiguous_m_indices(sizes)
    m = m_indices.numel()
    a, sa = random_fp8_activations((m, k), seed=seed)
    b, sb = random_fp8_weights(g, n, k, seed=seed + 1000)
    return sizes, m_indices, a, sa, b, sb


@pytest.mark.parametrize("g,n,k,seed", CONTIGUOUS_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("mode", ["functional", "out"])
def test_contiguous(g: int, n: int, k: int, seed: int, mode: str) -> None:
    sizes, m_indices, a, sa, b, sb = _contiguous_problem(g, n, k, seed)
    m = m_indices.numel()
    padding = (m_indices < 0).nonzero().flatten()
    _nan_rows(a, sa, padding)  # NaN in padding rows must not reach valid rows
    if mode == "out":
        out = _poisoned((m, n))
        assert fp8gemm.m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, m_indices, out) is None
    else:
        out = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, m_indices)
    assert out.shape == (m, n) and out.dtype == torch.bfloat16
    start = 0
    for gi, size in enumerate(sizes):
        rows = slice(start, start + size)
        _check_rows(out[rows], reference_gemm_nt(a[rows], sa[rows], b[gi], sb[gi]), f"group {gi} ({size} rows)")
        start += ceil_div(size, 128) * 128
    if mode == "out":
        # 128-row blocks made only of padding are skipped: their rows keep the poison.
        blocks = m_indices.view(-1, 128)
        idle = (blocks < 0).all(dim=1)
        assert (out.view(-1, 128, n)[idle] == POISON).all(), "a block of padding rows was computed"


def test_contiguous_out_of_range_indices_are_skipped() -> None:
    """Group indices the host never sees: out of range blocks are skipped, never read as addresses."""
    g, n, k = 4, 256, 256
    _, m_indices, a, sa, b, sb = _contiguous_problem(g, n, k, 7, sizes=[128, 128, 128, 128])
    bad = m_indices.clone().view(-1, 128)
    bad[1] = 1_000_000
    bad[2] = -7
    out = _poisoned((512, n))
    fp8gemm.m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, bad.flatten(), out)
    torch.cuda.synchronize()
    assert (out[128:384] == POISON).all()
    _check_rows(out[:128], reference_gemm_nt(a[:128], sa[:128], b[0], sb[0]), "group 0")
    _check_rows(out[384:], reference_gemm_nt(a[384:], sa[384:], b[3], sb[3]), "group 3")


def test_contiguous_every_config_mixed_tiles_and_padding_blocks() -> None:
    """Every compiled contiguous config (forced), on a layout with 128-row blocks of padding
    only, 256-row spans holding two groups, and a group of 1 row: valid rows right, padding
    blocks never written."""
    from fp8gemm import _native

    g, n, k = 4, 384, 640
    b, sb = random_fp8_weights(g, n, k, seed=3)
    blocks = [0, -1, 1, 1, 2, -1, -1, 3, 0]  # group of each 128-row block, -1: padding only
    rows_in_block = [128, 0, 128, 1, 77, 0, 0, 128, 128]
    m_indices = torch.full((128 * len(blocks),), -1, dtype=torch.int32)
    for i, (grp, rows) in enumerate(zip(blocks, rows_in_block)):
        m_indices[128 * i : 128 * i + rows] = grp
    m_indices = m_indices.cuda()
    a, sa = random_fp8_activations((m_indices.numel(), k), seed=4)
    lines = fp8gemm.kernel_grid().splitlines()
    configs = [i for i, line in enumerate(lines) if "layout=contiguous" in line and "sa=row" not in line]
    assert configs
    try:
        for idx in configs:
            _native.lib().fp8gemm_force_kernel(idx)
            out = _poisoned((m_indices.numel(), n))
            fp8gemm.m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, m_indices, out)
            torch.cuda.synchronize()
            for i, (grp, rows) in enumerate(zip(blocks, rows_in_block)):
                r = slice(128 * i, 128 * i + rows)
                if grp < 0:
                    assert (out[128 * i : 128 * (i + 1)] == POISON).all(), f"{lines[idx]}: padding block {i} written"
                else:
                    _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[grp], sb[grp]), f"{lines[idx]} block {i}")
    finally:
        _native.lib().fp8gemm_force_kernel(-1)


# ---------------------------------------------------------------- masked

MASKED_CASES = [
    # (G, Mmax, N, K)
    (1, 1, 256, 128),
    (2, 16, 4096, 7168),
    (4, 63, 2112, 576),
    (8, 64, 512, 336),
    (3, 200, 7168, 2048),
    (32, 8, 4096, 512),
    (256, 5, 128, 128),
]


def _masked_problem(g: int, mmax: int, n: int, k: int, seed: int):
    a, sa = random_fp8_activations((g, mmax, k), seed=seed)
    b, sb = random_fp8_weights(g, n, k, seed=seed + 1000)
    return a, sa, b, sb


@pytest.mark.parametrize("g,mmax,n,k", MASKED_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("mode", ["functional", "out"])
def test_masked(g: int, mmax: int, n: int, k: int, mode: str) -> None:
    seed = g * 1000 + mmax
    a, sa, b, sb = _masked_problem(g, mmax, n, k, seed)
    rnd = random.Random(seed)
    counts = [rnd.choice([0, mmax, rnd.randint(0, mmax)]) for _ in range(g)]
    counts[0] = mmax
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")
    for gi, c in enumerate(counts):  # NaN in the rows past masked_m
        if c < mmax:
            a.view(torch.uint8)[gi, c:] = 0x7F
            sa[gi, c:] = float("nan")
    if mode == "out":
        out = _poisoned((g, mmax, n))
        fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, expected_m=max(1, sum(counts) // g))
    else:
        out = fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, max(1, sum(counts) // g))
    assert out.shape == (g, mmax, n)
    for gi, c in enumerate(counts):
        _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"group {gi}")
        if mode == "out":
            assert (out[gi, c:] == POISON).all(), f"group {gi}: rows past masked_m were written"


def test_masked_counts_out_of_range_are_clamped() -> None:
    g, mmax, n, k = 4, 40, 256, 256
    a, sa, b, sb = _masked_problem(g, mmax, n, k, 17)
    masked_m = torch.tensor([-5, 1_000_000, 2**31 - 1, 7], dtype=torch.int32, device="cuda")
    out = _poisoned((g, mmax, n))
    fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, 8)
    torch.cuda.synchronize()
    assert (out[0] == POISON).all()
    for gi, c in ((1, mmax), (2, mmax), (3, 7)):
        _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"group {gi}")
    assert (out[3, 7:] == POISON).all()


# ---------------------------------------------------------------- offset

OFFSET_CASES = [
    # (G, N, K, seed)
    (1, 4096, 7168, 1),
    (4, 2112, 576, 2),
    (9, 4096, 512, 3),
    (32, 256, 336, 4),
    (256, 128, 128, 5),
]


_clamped_bounds = clamped_offset_bounds


@pytest.mark.parametrize("g,n,k,seed", OFFSET_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("mode", ["functional", "out"])
def test_offset(g: int, n: int, k: int, seed: int, dtype: torch.dtype, mode: str) -> None:
    pool = SIZES if g <= 32 else (0, 1, 3, 17, 64, 129)
    sizes = _draw_sizes(g, seed, pool)
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    m = bounds[-1]
    a, sa = random_fp8_activations((m, k), seed=seed)
    b, sb = random_fp8_weights(g, n, k, seed=seed + 1000)
    offsets = torch.tensor(bounds, dtype=dtype, device="cuda")
    if mode == "out":
        out = _poisoned((m, n))
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, expected_m=max(1, m // g))
    else:
        out = fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets, max(1, m // g))
    assert out.shape == (m, n)
    for gi in range(g):
        r = slice(bounds[gi], bounds[gi + 1])
        _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"group {gi} ({sizes[gi]} rows)")


@pytest.mark.parametrize(
    "offsets",
    [
        [5, 40, 100, 150],  # rows before the first group and after the last: untouched
        [0, 90, 30, 200],  # decreasing, then past M: clamped into a running max
        [-20, 10, 10, 1_000_000],
    ],
    ids=["gaps", "decreasing", "negative-and-huge"],
)
def test_offset_garbage_offsets_never_write_outside_groups(offsets: list[int]) -> None:
    g, m, n, k = 3, 160, 256, 256
    a, sa = random_fp8_activations((m, k), seed=31)
    b, sb = random_fp8_weights(g, n, k, seed=32)
    out = _poisoned((m, n))
    fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, torch.tensor(offsets, dtype=torch.int32, device="cuda"), out)
    torch.cuda.synchronize()
    bounds = _clamped_bounds(offsets, m)
    written = torch.zeros(m, dtype=torch.bool)
    for gi in range(g):
        r = slice(bounds[gi], bounds[gi + 1])
        written[r] = True
        _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"group {gi}")
    assert (out[~written.cuda()] == POISON).all(), "a row outside every group was written"


@pytest.mark.parametrize("layout", ["masked", "offset"])
def test_masked_and_offset_every_config(layout: str) -> None:
    """Every compiled masked / offset config (canonical scales), forced, on groups that end
    mid-tile, an empty group and one of a single row, N not a multiple of any block width:
    NaN in every row of a outside the groups, the whole output poisoned; valid rows against
    float64, every other row untouched."""
    from fp8gemm import _native

    n, k = 400, 640
    sizes = [300, 0, 1, 137]
    g = len(sizes)
    b, sb = random_fp8_weights(g, n, k, seed=41)
    if layout == "masked":
        mmax = 304
        a, sa = random_fp8_activations((g, mmax, k), seed=42)
        for gi, c in enumerate(sizes):
            _nan_rows(a[gi], sa[gi], slice(c, None))
        masked_m = torch.tensor(sizes, dtype=torch.int32, device="cuda")
        shape = (g, mmax, n)

        def run(out: torch.Tensor) -> None:
            fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, expected_m=200)

        def rows(gi: int, t: torch.Tensor) -> torch.Tensor:
            return t[gi, : sizes[gi]]
    else:
        gap = 5  # rows before the first group and after the last belong to none
        starts, r = [], gap
        for c in sizes:
            starts.append(r)
            r += c
        m = r + gap
        a, sa = random_fp8_activations((m, k), seed=42)
        inside = torch.zeros(m, dtype=torch.bool)
        for st, c in zip(starts, sizes):
            inside[st : st + c] = True
        _nan_rows(a, sa, (~inside).nonzero().flatten().cuda())
        offsets = torch.tensor([*starts, starts[-1] + sizes[-1]], dtype=torch.int32, device="cuda")
        shape = (m, n)

        def run(out: torch.Tensor) -> None:
            fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, expected_m=200)

        def rows(gi: int, t: torch.Tensor) -> torch.Tensor:
            return t[starts[gi] : starts[gi] + sizes[gi]]

    lines = fp8gemm.kernel_grid().splitlines()
    configs = [i for i, line in enumerate(lines) if f"layout={layout}" in line and "sa=row" not in line]
    assert configs
    try:
        for idx in configs:
            _native.lib().fp8gemm_force_kernel(idx)
            out = _poisoned(shape)
            run(out)
            torch.cuda.synchronize()
            written = torch.zeros(shape[:-1], dtype=torch.bool, device="cuda")
            for gi in range(g):
                ref = reference_gemm_nt(rows(gi, a), rows(gi, sa), b[gi], sb[gi])
                _check_rows(rows(gi, out), ref, f"{lines[idx]} group {gi}")
                rows(gi, written).fill_(True)
            assert (out[~written] == POISON).all(), f"{lines[idx]}: a row outside every group was written"
    finally:
        _native.lib().fp8gemm_force_kernel(-1)


# ---------------------------------------------------------------- empty problems


def test_zero_rows() -> None:
    b, sb = random_fp8_weights(2, 256, 256, seed=1)
    a = torch.empty(0, 256, dtype=torch.float8_e4m3fn, device="cuda")
    sa = torch.empty(0, 2, dtype=torch.float32, device="cuda")
    out = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, torch.empty(0, dtype=torch.int32, device="cuda"))
    assert out.shape == (0, 256)
    offsets = torch.zeros(3, dtype=torch.int32, device="cuda")
    assert fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets).shape == (0, 256)
    masked_m = torch.zeros(2, dtype=torch.int32, device="cuda")
    a3, sa3 = random_fp8_activations((2, 8, 256), seed=2)
    out3 = _poisoned((2, 8, 256))
    fp8gemm.m_grouped_gemm_nt_masked_out(a3, sa3, b, sb, masked_m, out3)
    torch.cuda.synchronize()
    assert (out3 == POISON).all()


def test_non_canonical_masked_scales() -> None:
    g, mmax, n, k = 3, 37, 256, 384
    a, sa, b, sb = _masked_problem(g, mmax, n, k, 41)
    row_major = sa.contiguous()  # [G, Mmax, Kb] row-major: converted by the op
    masked_m = torch.tensor([37, 20, 1], dtype=torch.int32, device="cuda")
    out = fp8gemm.m_grouped_gemm_nt_masked(a, row_major, b, sb.transpose(1, 2).contiguous().transpose(1, 2), masked_m)
    for gi, c in enumerate((37, 20, 1)):
        _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"group {gi}")


# ---------------------------------------------------------------- graphs and compile


def test_masked_decode_loop_in_cuda_graph() -> None:
    """Captured once, replayed with masked_m changed between replays (the host never syncs)."""
    g, mmax, n, k = 8, 32, 2048, 1024
    a, sa, b, sb = _masked_problem(g, mmax, n, k, 51)
    masked_m = torch.full((g,), mmax, dtype=torch.int32, device="cuda")
    out = _poisoned((g, mmax, n))
    warm_up_outside_capture(lambda: fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, 8))
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, masked_m, out, 8)
    rnd = random.Random(5)
    for step in range(4):
        counts = [rnd.randint(0, mmax) for _ in range(g)]
        masked_m.copy_(torch.tensor(counts, dtype=torch.int32))
        new_a, new_sa = random_fp8_activations((g, mmax, k), seed=60 + step)
        a.copy_(new_a)
        sa.copy_(new_sa)
        out.fill_(POISON)
        graph.replay()
        torch.cuda.synchronize()
        for gi, c in enumerate(counts):
            _check_rows(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"step {step} group {gi}")
            assert (out[gi, c:] == POISON).all()


def test_offset_loop_in_cuda_graph() -> None:
    g, m, n, k = 6, 96, 1024, 512
    a, sa = random_fp8_activations((m, k), seed=71)
    b, sb = random_fp8_weights(g, n, k, seed=72)
    offsets = torch.tensor([0, 16, 32, 48, 64, 80, 96], dtype=torch.int64, device="cuda")
    out = _poisoned((m, n))
    fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, 16)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out, 16)
    rnd = random.Random(9)
    for step in range(4):
        cuts = sorted(rnd.randint(0, m) for _ in range(g - 1))
        bounds = [0, *cuts, m]
        offsets.copy_(torch.tensor(bounds, dtype=torch.int64))
        out.fill_(POISON)
        graph.replay()
        torch.cuda.synchronize()
        for gi in range(g):
            r = slice(bounds[gi], bounds[gi + 1])
            _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"step {step} group {gi}")


def _moe_contiguous(x: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, m_indices: torch.Tensor) -> torch.Tensor:
    a, sa = per_token_cast_to_fp8(x)
    return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, m_indices)


def _moe_masked(x: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, masked_m: torch.Tensor) -> torch.Tensor:
    a, sa = per_token_cast_to_fp8(x)
    return fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, 16)


def _moe_offset(x: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    a, sa = per_token_cast_to_fp8(x)
    return fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets, 16)


def test_torch_compile_fullgraph_with_compiled_quantization() -> None:
    torch._dynamo.reset()
    g, n, k = 4, 512, 640
    b, sb = random_fp8_weights(g, n, k, seed=81)
    gen = torch.Generator(device="cuda").manual_seed(82)
    # contiguous
    sizes = [128, 256, 0, 128]
    m_indices = contiguous_m_indices(sizes)
    x = torch.randn(m_indices.numel(), k, generator=gen, device="cuda").to(torch.bfloat16)
    out = torch.compile(_moe_contiguous, fullgraph=True)(x, b, sb, m_indices)
    a, sa = per_token_cast_to_fp8(x)
    start = 0
    for gi, s in enumerate(sizes):
        r = slice(start, start + s)
        _check_rows(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi]), f"contiguous group {gi}")
        start += s
    # masked
    x3 = torch.randn(g, 24, k, generator=gen, device="cuda").to(torch.bfloat16)
    masked_m = torch.tensor([24, 3, 0, 17], dtype=torch.int32, device="cuda")
    out3 = torch.compile(_moe_masked, fullgraph=True)(x3, b, sb, masked_m)
    a3, sa3 = per_token_cast_to_fp8(x3)
    for gi, c in enumerate((24, 3, 0, 17)):
        _check_rows(out3[gi, :c], reference_gemm_nt(a3[gi, :c], sa3[gi, :c], b[gi], sb[gi]), f"masked group {gi}")
    # offset
    x2 = torch.randn(50, k, generator=gen, device="cuda").to(torch.bfloat16)
    bounds = [0, 7, 7, 30, 50]
    out2 = torch.compile(_moe_offset, fullgraph=True)(x2, b, sb, torch.tensor(bounds, dtype=torch.int32, device="cuda"))
    a2, sa2 = per_token_cast_to_fp8(x2)
    for gi in range(g):
        r = slice(bounds[gi], bounds[gi + 1])
        _check_rows(out2[r], reference_gemm_nt(a2[r], sa2[r], b[gi], sb[gi]), f"offset group {gi}")


def test_opcheck_grouped_ops() -> None:
    g, n, k = 3, 256, 256
    b, sb = random_fp8_weights(g, n, k, seed=91)
    m_indices = contiguous_m_indices([128, 5, 128])
    a, sa = random_fp8_activations((m_indices.numel(), k), seed=92)
    a3, sa3 = random_fp8_activations((g, 16, k), seed=93)
    masked_m = torch.tensor([16, 3, 0], dtype=torch.int32, device="cuda")
    offsets = torch.tensor([0, 100, 100, a.shape[0]], dtype=torch.int32, device="cuda")
    out = torch.zeros(a.shape[0], n, dtype=torch.bfloat16, device="cuda")
    out3 = torch.zeros(g, 16, n, dtype=torch.bfloat16, device="cuda")
    ops = torch.ops.fp8gemm
    # Padding rows (contiguous) and rows past masked_m (masked, functional) are unspecified,
    # so the eager-vs-compiled comparison runs only where every element is defined.
    partial = ("test_autograd_registration", "test_faketensor")
    full = (*partial, "test_aot_dispatch_dynamic")
    cases = [
        (ops.m_grouped_gemm_nt_contiguous.default, (a, sa, b, sb, m_indices), partial, ()),
        (ops.m_grouped_gemm_nt_contiguous_out.default, (a, sa, b, sb, m_indices, out), partial, (5,)),
        (ops.m_grouped_gemm_nt_masked.default, (a3, sa3, b, sb, masked_m, 8), partial, ()),
        (ops.m_grouped_gemm_nt_masked_out.default, (a3, sa3, b, sb, masked_m, out3, 8), full, (5,)),
        (ops.m_grouped_gemm_nt_offset.default, (a, sa, b, sb, offsets, 8), full, ()),
        (ops.m_grouped_gemm_nt_offset_out.default, (a, sa, b, sb, offsets, out, 8), full, (5,)),
    ]
    for op, args, utils, mutated in cases:
        torch.library.opcheck(op, args, test_utils=utils)
        assert_schema_respected(op, args, mutated=mutated)


def test_deterministic() -> None:
    _, m_indices, a, sa, b, sb = _contiguous_problem(4, 2112, 1024, 99)
    first = fp8gemm.m_grouped_gemm_nt_contiguous_out
    out1, out2 = _poisoned((a.shape[0], 2112)), _poisoned((a.shape[0], 2112))
    first(a, sa, b, sb, m_indices, out1)
    first(a, sa, b, sb, m_indices, out2)
    assert torch.equal(out1, out2)
