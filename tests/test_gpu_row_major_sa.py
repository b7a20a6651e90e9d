"""GPU tests of row-major 1x128 activation scales read in place by the 1D2D kernels
(issue 4: "scales served as they come").

Most quantizers write the activation scales row-major, `[M, Kb]` (masked: `[G, Mmax, Kb]`).
Every 1D2D config has a twin that reads them through a tensor map as they are, instead of a
relayout copy into the canonical column-major layout first: a box of 4 to 32 K blocks of the
tile's rows per group of K blocks, or, for short rows (Kb <= the box width, rows * stride a
multiple of 32 floats, tiles starting on 128-byte lines), the tile's whole rows as 128-byte
lines (csrc/op_common.cpp). Both modes are forced below. These tests force every twin
(and let the heuristic choose) on shapes partial in every dimension, with the padding
between scale rows set to NaN so that a kernel reading the wrong column fails; each result
must match the float64 reference and equal, bit for bit, the canonical config's result on
the same inputs; and no copy may have been made (the library counts them).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import pytest
import torch

from gpu_utils import (
    check_valid_rows,
    expected_dense_row_major_copies,
    grid_fields,
    requires_hopper,
    row_major_twin_compiled,
    sa_relayouts,
    warm_up_outside_capture,
)

import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import (
    calc_diff,
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_problem,
    random_fp8_weights,
    reference_gemm_nt,
    row_major_sa,
)

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5  # SPEC.md
POISON = 12345.0  # exactly representable in bf16; rows that must stay unwritten keep it


def _row_major(sa: torch.Tensor, pad_to: int = 4) -> torch.Tensor:
    """The same scales row-major, rows padded to a multiple of `pad_to` floats with NaN
    (`[M, Kb]`, or `[G, Mmax, Kb]` with the groups' rows evenly spaced)."""
    return row_major_sa(sa, -(-sa.shape[-1] // pad_to) * pad_to)


_check = functools.partial(check_valid_rows, poison=POISON, max_diff=MAX_DIFF)


@dataclasses.dataclass
class Case:
    """One problem of a layout: call(sa, out) runs the op; check(out) compares the valid
    rows with the reference (and that the rest kept the poison)."""

    sa: torch.Tensor  # canonical scales
    out_shape: tuple[int, ...]
    out_dtype: torch.dtype
    call: Callable[[torch.Tensor, torch.Tensor], None]
    check: Callable[[torch.Tensor], None]

    def run(self, sa: torch.Tensor) -> torch.Tensor:
        out = torch.full(self.out_shape, POISON, dtype=self.out_dtype, device="cuda")
        self.call(sa, out)
        return out


# K per mode: "box" reads a box of columns per group (Kb = 34, rows padded to 36 floats:
# longer than any box, two groups per tile, the second partial); "whole" the tiles' whole
# rows (Kb = 4, rows of 16 bytes; the cases' row counts times 4 are multiples of 32);
# "whole8", "whole16", "whole32" whole rows of exactly 8, 16, 32 floats (the 32-float ones
# 128-byte swizzled) for the twins whose boxes are at least that wide, boxes of columns for
# the others.
MODES = {"box": 4240, "whole": 512, "whole8": 1024, "whole16": 2048, "whole32": 4096}


def _dense_case(bm: int, bn: int, out: str, seed: int, mode: str) -> Case:
    # 4 row blocks and 6 column blocks (even: a cluster pair is legal along either), the
    # last of each cut short.
    m, n, k = 3 * bm + 48, 6 * bn - 8, MODES[mode]
    p = random_fp8_problem(m, n, k, "cuda", seed=seed)
    a, b, sb = p["a"], p["b"], p["sb"]
    dtype = torch.float32 if out == "fp32" else torch.bfloat16
    return Case(p["sa"], (m, n), dtype, lambda sa, o: fp8gemm.gemm_nt_out(a, sa, b, sb, o),
                lambda o: _check(o, reference_gemm_nt(a, p["sa"], b, sb), "dense"))


def _contiguous_case(bm: int, bn: int, out: str, seed: int, mode: str) -> Case:
    # Groups of 256, 1, 77, 0 and 128 rows (each padded to 128 rows), 256-row tiles holding
    # two groups' ends.
    sizes = [256, 1, 77, 0, 128]
    n, k = 6 * bn - 8, MODES[mode]
    m_indices = contiguous_m_indices(sizes)
    a, sa = random_fp8_activations((m_indices.numel(), k), seed=seed)
    b, sb = random_fp8_weights(len(sizes), n, k, seed=seed + 1)
    starts = [0]
    for s in sizes:
        starts.append(starts[-1] + -(-s // 128) * 128)

    def check(o: torch.Tensor) -> None:
        for g, s in enumerate(sizes):
            r = slice(starts[g], starts[g] + s)
            _check(o[r], reference_gemm_nt(a[r], sa[r], b[g], sb[g]), f"contiguous group {g}")

    return Case(sa, (m_indices.numel(), n), torch.bfloat16,
                lambda s_, o: fp8gemm.m_grouped_gemm_nt_contiguous_out(a, s_, b, sb, m_indices, o), check)


def _masked_case(bm: int, bn: int, out: str, seed: int, mode: str) -> Case:
    # Mmax not a multiple of the tile (150: not of 4 either; 152: Mmax * 4 floats on 128-byte
    # lines, what the whole-row mode needs), an empty group, a partial one.
    mmax = 150 if mode == "box" else 152
    counts, n, k = [mmax, 0, 77], 6 * bn - 8, MODES[mode]
    g = len(counts)
    a, sa = random_fp8_activations((g, mmax, k), seed=seed)
    b, sb = random_fp8_weights(g, n, k, seed=seed + 1)
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")

    def check(o: torch.Tensor) -> None:
        for gi, c in enumerate(counts):
            _check(o[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi]), f"masked group {gi}")
            assert (o[gi, c:] == POISON).all(), f"masked group {gi}: rows past masked_m were written"

    return Case(sa, (g, mmax, n), torch.bfloat16,
                lambda s_, o: fp8gemm.m_grouped_gemm_nt_masked_out(a, s_, b, sb, masked_m, o, 64), check)


def _offset_case(bm: int, bn: int, out: str, seed: int, mode: str) -> Case:
    # Groups start on rows that are not multiples of 4 (the canonical layout's TMA needs a
    # padded box there; row-major boxes start on any row). Always boxes of columns.
    sizes, n, k = [130, 0, 5, 261], 6 * bn - 8, MODES[mode]
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    m = bounds[-1]
    a, sa = random_fp8_activations((m, k), seed=seed)
    b, sb = random_fp8_weights(len(sizes), n, k, seed=seed + 1)
    offsets = torch.tensor(bounds, dtype=torch.int32, device="cuda")

    def check(o: torch.Tensor) -> None:
        for g in range(len(sizes)):
            r = slice(bounds[g], bounds[g + 1])
            _check(o[r], reference_gemm_nt(a[r], sa[r], b[g], sb[g]), f"offset group {g}")

    return Case(sa, (m, n), torch.bfloat16,
                lambda s_, o: fp8gemm.m_grouped_gemm_nt_offset_out(a, s_, b, sb, offsets, o, 100), check)


CASES = {"dense": _dense_case, "contiguous": _contiguous_case, "masked": _masked_case, "offset": _offset_case}


def _grid() -> list[str]:
    try:
        return fp8gemm.kernel_grid().splitlines()
    except Exception:  # no native library: the GPU marks skip every test anyway
        return []


def _row_major_configs() -> list[tuple[int, str]]:
    return [(i, line.split(" ", 1)[1]) for i, line in enumerate(_grid()) if "sa=row" in line]


def _canonical_twin(fields: dict[str, str]) -> int:
    keys = ("layout", "block_m", "block_n", "multicast", "out")
    for i, line in enumerate(_grid()):
        f = grid_fields(line)
        if "sa" not in f and all(f[key] == fields[key] for key in keys):
            return i
    return -1  # the build lacks it: compare with the heuristic's choice instead


def _forced(idx: int, fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    _native.lib().fp8gemm_force_kernel(idx)
    try:
        out = fn()
        torch.cuda.synchronize()
    finally:
        _native.lib().fp8gemm_force_kernel(-1)
    return out


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("config", _row_major_configs(), ids=lambda c: c[1].replace(" ", ","))
def test_every_row_major_config(config: tuple[int, str], mode: str) -> None:
    idx, desc = config
    f = grid_fields("x " + desc)
    case = CASES[f["layout"]](int(f["block_m"]), int(f["block_n"]), f["out"], seed=idx, mode=mode)
    sa_row = _row_major(case.sa)
    assert torch.equal(sa_row, case.sa) and sa_row.stride(-1) == 1 and sa_row.stride(-2) % 4 == 0
    before = sa_relayouts()
    out = _forced(idx, lambda: case.run(sa_row))
    assert sa_relayouts() == before, "the row-major scales were copied: the forced config did not run"
    case.check(out)
    canonical = _forced(_canonical_twin(f), lambda: case.run(case.sa))
    assert torch.equal(out, canonical), "row-major and canonical scales must give the same bits"


DENSE_SHAPES = [(65, 2112, 7168), (128, 7168, 2048), (129, 4096, 576), (300, 200, 4112), (1000, 24576, 1536),
                (2048, 2112, 7168), (4096, 7168, 2048), (64, 7168, 16384), (16, 7168, 2048),
                (128, 32768, 512), (256, 7168, 576), (4096, 7168, 576), (72, 2112, 1024)]


@pytest.mark.parametrize("pad_to", [1, 4], ids=lambda v: f"rows_pad{v}")
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", DENSE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_dense_row_major_sa_in_place(shape: tuple[int, int, int], out_dtype: torch.dtype, pad_to: int) -> None:
    """The heuristic's choice: row-major scales with 16-byte-aligned rows are read in place
    (unless swap-AB serves the shape from the canonical layout only), others copied; the
    result equals the canonical one bit for bit either way."""
    m, n, k = shape
    p = random_fp8_problem(m, n, k, "cuda", seed=m * 31 + n + k)
    sa = _row_major(p["sa"], pad_to)
    expected = expected_dense_row_major_copies(m, n, k, out_dtype, sa)
    before = sa_relayouts()
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    fp8gemm.gemm_nt_out(p["a"], sa, p["b"], p["sb"], out)
    torch.cuda.synchronize()
    assert sa_relayouts() - before == expected
    assert not torch.isnan(out).any()
    if m * n * k <= 2**34:
        assert calc_diff(out, reference_gemm_nt(p["a"], p["sa"], p["b"], p["sb"])) < MAX_DIFF
    assert torch.equal(out, fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"], out_dtype=out_dtype))


def test_functional_gemm_nt_and_accumulate_with_row_major_sa() -> None:
    m, n, k = 384, 4096, 7168
    p = random_fp8_problem(m, n, k, "cuda", seed=5)
    sa = _row_major(p["sa"])
    ref = reference_gemm_nt(p["a"], p["sa"], p["b"], p["sb"])
    out = fp8gemm.gemm_nt(p["a"], sa, p["b"], p["sb"])
    assert calc_diff(out, ref) < MAX_DIFF
    acc0 = torch.randn(m, n, device="cuda") * ref.abs().mean().float()
    acc = acc0.clone()
    fp8gemm.gemm_nt_out(p["a"], sa, p["b"], p["sb"], acc, accumulate=True)
    assert calc_diff(acc, acc0.double() + ref) < MAX_DIFF


def _grouped_in_place(kind: str, m_model: int, n: int, k: int, groups: int) -> int:
    cfg = fp8gemm.select_config(kind, m_model, n, k, num_groups=groups)
    layout = kind.split("_")[-1]
    return 0 if row_major_twin_compiled(cfg, layout, "bf16") else 1


@pytest.mark.parametrize("g,rows,n,k", [(4, 256, 4096, 7168), (8, 300, 7168, 2048), (3, 1000, 2112, 576)],
                         ids=str)
def test_contiguous_row_major_sa_in_place(g: int, rows: int, n: int, k: int) -> None:
    sizes = [rows - 7 * i for i in range(g)]
    m_indices = contiguous_m_indices(sizes)
    a, sa = random_fp8_activations((m_indices.numel(), k), seed=g)
    b, sb = random_fp8_weights(g, n, k, seed=g + 1)
    before = sa_relayouts()
    out = fp8gemm.m_grouped_gemm_nt_contiguous(a, _row_major(sa), b, sb, m_indices)
    torch.cuda.synchronize()
    assert sa_relayouts() - before == _grouped_in_place("m_grouped_gemm_nt_contiguous", m_indices.numel(), n, k, g)
    valid = m_indices >= 0
    canonical = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, m_indices)
    assert torch.equal(out[valid], canonical[valid])
    start = 0
    for gi, s in enumerate(sizes):
        r = slice(start, start + s)
        assert calc_diff(out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi])) < MAX_DIFF
        start += -(-s // 128) * 128


@pytest.mark.parametrize("g,mmax,expected,n,k", [(32, 8, 8, 4096, 7168), (4, 256, 256, 7168, 2048),
                                                 (2, 1024, 1000, 4096, 7168), (256, 4, 4, 7168, 2048),
                                                 (8, 64, 60, 4096, 512), (4, 200, 200, 2112, 576)], ids=str)
def test_masked_row_major_sa_in_place(g: int, mmax: int, expected: int, n: int, k: int) -> None:
    a, sa = random_fp8_activations((g, mmax, k), seed=g + mmax)
    b, sb = random_fp8_weights(g, n, k, seed=g + mmax + 1)
    counts = [expected - (i % 3) for i in range(g)]
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")
    before = sa_relayouts()
    out = fp8gemm.m_grouped_gemm_nt_masked(a, _row_major(sa), b, sb, masked_m, expected)
    torch.cuda.synchronize()
    assert sa_relayouts() - before == _grouped_in_place("m_grouped_gemm_nt_masked", expected, n, k, g)
    canonical = fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, expected)
    for gi in range(0, g, max(1, g // 8)):
        c = counts[gi]
        assert torch.equal(out[gi, :c], canonical[gi, :c])
        assert calc_diff(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi])) < MAX_DIFF


def test_offset_row_major_sa_in_place() -> None:
    sizes, n, k = [16, 33, 0, 130, 7, 64], 4096, 7168
    bounds = [0]
    for s in sizes:
        bounds.append(bounds[-1] + s)
    a, sa = random_fp8_activations((bounds[-1], k), seed=77)
    b, sb = random_fp8_weights(len(sizes), n, k, seed=78)
    offsets = torch.tensor(bounds, dtype=torch.int64, device="cuda")
    before = sa_relayouts()
    out = fp8gemm.m_grouped_gemm_nt_offset(a, _row_major(sa), b, sb, offsets, 32)
    torch.cuda.synchronize()
    assert sa_relayouts() - before == _grouped_in_place("m_grouped_gemm_nt_offset", 32, n, k, len(sizes))
    assert torch.equal(out, fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets, 32))
    for g in range(len(sizes)):
        r = slice(bounds[g], bounds[g + 1])
        assert calc_diff(out[r], reference_gemm_nt(a[r], sa[r], b[g], sb[g])) < MAX_DIFF


def test_masked_scales_with_uneven_group_spacing_are_copied() -> None:
    """[G, Mmax, Kb] whose groups are not Mmax rows apart cannot be one [G * Mmax, Kb] matrix:
    copied (once), and still right."""
    g, mmax, n, k = 3, 40, 512, 1024
    a, sa = random_fp8_activations((g, mmax, k), seed=3)
    b, sb = random_fp8_weights(g, n, k, seed=4)
    buf = torch.full((g, mmax + 3, 8), float("nan"), device="cuda")
    gapped = buf[:, :mmax, :]
    gapped.copy_(sa)
    masked_m = torch.tensor([mmax, 5, 0], dtype=torch.int32, device="cuda")
    before = sa_relayouts()
    out = fp8gemm.m_grouped_gemm_nt_masked(a, gapped, b, sb, masked_m, mmax)
    torch.cuda.synchronize()
    assert sa_relayouts() - before == 1
    for gi, c in enumerate((mmax, 5)):
        assert calc_diff(out[gi, :c], reference_gemm_nt(a[gi, :c], sa[gi, :c], b[gi], sb[gi])) < MAX_DIFF


def test_row_major_sa_in_a_cuda_graph() -> None:
    """Captured with row-major scales read in place, replayed after every input was
    refilled: the result is the new problem's."""
    m, n, k = 256, 4096, 7168
    first = random_fp8_problem(m, n, k, "cuda", seed=1)
    second = random_fp8_problem(m, n, k, "cuda", seed=2)
    a, b, sb = (first[key].clone() for key in ("a", "b", "sb"))
    sa = _row_major(first["sa"])
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    warm_up_outside_capture(lambda: fp8gemm.gemm_nt_out(a, sa, b, sb, out))
    graph = torch.cuda.CUDAGraph()
    before = sa_relayouts()
    with torch.cuda.graph(graph):
        fp8gemm.gemm_nt_out(a, sa, b, sb, out)
    assert sa_relayouts() == before or not row_major_twin_compiled(
        fp8gemm.select_config("gemm_nt", m, n, k), "dense", "bf16")
    for dst, key in ((a, "a"), (sa, "sa"), (b, "b"), (sb, "sb")):
        dst.copy_(second[key])
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    assert calc_diff(out, reference_gemm_nt(second["a"], second["sa"], second["b"], second["sb"])) < MAX_DIFF
