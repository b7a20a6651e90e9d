"""M-grouped (MoE) benchmark: the contiguous, masked and offset layouts against their peers.

Used by ``python -m fp8gemm.bench`` (``--family grouped``) and ``benchmarks/bench_grouped.py``.
Needs an sm_90 GPU.

Peers, each checked against the float64 reference before it is timed:
- ``bf16_grouped``: ``torch._grouped_mm`` on the dequantized bf16 operands (offsets of the
  group ends for the 2-D layouts; batched ``[G, Mmax, K] x [G, K, N]`` for masked).
- ``fp8_rowwise_grouped``: ``torch._scaled_grouped_mm`` with per-row scales of the
  dequantized operands re-quantized row-wise (a coarser recipe; checked loosely).
- ``cublas_loop``: one cuBLAS blockwise ``torch._scaled_mm`` per non-empty group, the group
  sizes known to the host (what a user without a grouped kernel runs).
- read: the bytes that must move (weights of every non-empty group, activations, scales,
  output) read by one streaming pass in the same run, after the same L2 flush (the faster
  of a Triton streaming read and ``torch.sum`` over a buffer of that many bytes): a plain
  kernel moving the same bytes.
- rowsa: fp8gemm with the same activation scales row-major (``[M, Kb]``, masked
  ``[G, Mmax, Kb]``, rows 16-byte aligned), read in place; ``rowsa_over_canonical``.
- floor: as for the dense benchmark, max(bytes at the measured read bandwidth, flops at the
  measured FP8 peak).
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable

import torch

from ._bench_dense import (
    _config_str,
    _time_round_robin,
    add_floor,
    blockwise_scaled_mm,
    rowsa_summary,
    streaming_read,
    table_lines,
    torch_sum_read,
    unaligned_row_stride,
)
from .quant import FP8_MAX, dequantize_128x128, dequantize_1x128
from .testing import (
    calc_diff,
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_weights,
    reference_gemm_nt,
    row_major_sa,
)
from .utils import ceil_div, get_col_major_tma_aligned_tensor

# (G, rows per group, N, K)
CONTIGUOUS_SHAPES: list[tuple[int, int, int, int]] = [
    (4, 8192, 4096, 7168),
    (4, 8192, 7168, 2048),
    (8, 4096, 4096, 7168),
    (8, 4096, 7168, 2048),
    (32, 256, 4096, 7168),
    (32, 256, 7168, 2048),
]
# (G, expected rows per group, N, K)
MASKED_SHAPES: list[tuple[int, int, int, int]] = [
    (g, e, n, k) for (g, e) in ((1, 1024), (2, 512), (4, 256), (32, 32), (32, 8)) for (n, k) in ((4096, 7168), (7168, 2048))
]
OFFSET_SHAPES: list[tuple[int, int, int, int]] = [
    (g, e, 4096, 7168) for (g, e) in ((2, 16), (4, 16), (9, 32), (4, 32), (32, 64), (256, 8))
]
HEADLINE = ("contiguous", (4, 8192, 4096, 7168))

FP8GEMM_MAX_DIFF = 1e-5
PEER_MAX_DIFF = 2e-3  # the row-wise peer re-quantizes: only garbage must fail this


def _rowwise(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-wise FP8 quantization of a float tensor along `dim` (amax over the other dim)."""
    amax = x.abs().amax(dim=dim, keepdim=True).float().clamp(min=1e-4)
    scale = amax / FP8_MAX
    q = (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q, scale.squeeze(dim)


def _groups_of(layout: str, g: int, e: int, seed: int) -> tuple[list[int], int]:
    """Group sizes (rows) and Mmax for a shape: contiguous all e; masked and offset drawn
    around e (0.75e..1.25e), as router imbalance makes them."""
    if layout == "contiguous":
        return [e] * g, e
    rnd = random.Random(seed)
    sizes = [max(1, round(e * rnd.uniform(0.75, 1.25))) for _ in range(g)]
    return sizes, ceil_div(max(sizes), 16) * 16


def bench_grouped_shape(
    fp8gemm: Any, layout: str, g: int, e: int, n: int, k: int, *, rounds: int, rep: int, warmup: int, seed: int,
    ceilings: dict[str, float] | None = None,
) -> dict[str, Any]:
    sizes, mmax = _groups_of(layout, g, e, seed)
    rows_total = sum(sizes)
    row: dict[str, Any] = {"layout": layout, "g": g, "rows_per_group": e, "n": n, "k": k, "rows": rows_total}
    kind = f"m_grouped_gemm_nt_{layout}"
    try:
        row["config"] = fp8gemm.select_config(kind, rows_total if layout == "contiguous" else e, n, k, num_groups=g)
    except Exception as exc:
        row["config"] = None
        row["config_error"] = f"{type(exc).__name__}: {exc}"
    b, sb = random_fp8_weights(g, n, k, seed=seed + 1)
    # The peers' weights, group by group (G = 256 of 4096 x 7168 is 15 GB in bf16).
    b_bf16 = torch.empty(g, n, k, dtype=torch.bfloat16, device="cuda")
    bq = torch.empty(g, n, k, dtype=torch.float8_e4m3fn, device="cuda")
    bs = torch.empty(g, n, dtype=torch.float32, device="cuda")
    for gi in range(g):
        b_bf16[gi] = dequantize_128x128(b[gi], sb[gi]).to(torch.bfloat16)
        bq[gi], bs[gi] = _rowwise(b_bf16[gi], dim=1)
    kb = ceil_div(k, 128)

    # Operands per layout; `slices` maps each group to its rows of `a` / `out`.
    if layout == "masked":
        a, sa = random_fp8_activations((g, mmax, k), seed=seed)
        masked_m = torch.tensor(sizes, dtype=torch.int32, device="cuda")
        slices = [(gi, (gi, slice(0, s))) for gi, s in enumerate(sizes)]

        def ours(sa: torch.Tensor = sa) -> torch.Tensor:
            return fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, e)
    else:
        if layout == "contiguous":
            idx = contiguous_m_indices(sizes)
            starts = [gi * ceil_div(e, 128) * 128 for gi in range(g)]
        else:
            starts = [sum(sizes[:gi]) for gi in range(g)]
        m = (starts[-1] + ceil_div(sizes[-1], 128) * 128) if layout == "contiguous" else rows_total
        # 16 spare rows past M: the cuBLAS loop rounds each group up to 16 rows (below).
        a_buf, sa_buf = random_fp8_activations((m + 16, k), seed=seed)
        # ours gets the canonical layout of its M rows (sa_buf[:m] has the leading dimension
        # of M + 16 rows, which the op would copy on every call)
        a, sa = a_buf[:m], get_col_major_tma_aligned_tensor(sa_buf[:m])
        slices = [(gi, (slice(s0, s0 + s),)) for gi, (s0, s) in enumerate(zip(starts, sizes))]
        if layout == "contiguous":

            def ours(sa: torch.Tensor = sa) -> torch.Tensor:
                return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
        else:
            offsets = torch.tensor([0, *[s0 + s for s0, s in zip(starts, sizes)]], dtype=torch.int32, device="cuda")

            def ours(sa: torch.Tensor = sa) -> torch.Tensor:
                return fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets, e)

    refs = [(gi, sl, reference_gemm_nt(a[sl], sa[sl], b[gi], sb[gi])) for gi, sl in slices]
    cands: dict[str, Callable[[], Any]] = {}
    notes: dict[str, str] = {}

    def try_candidate(name: str, fn: Callable[[], Any], max_diff: float, pick: Callable[[Any, Any], Any]) -> None:
        try:
            out = fn()
            torch.cuda.synchronize()
            worst = 0.0
            for gi, sl, ref in refs:
                if ref.numel():
                    worst = max(worst, calc_diff(pick(out, (gi, sl)), ref))
        except Exception as exc:
            notes[name] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return
        row[f"{name}_diff"] = worst
        if not worst < max_diff:
            notes[name] = f"wrong result: calc_diff = {worst:.3e}"
            if name != "fp8gemm":
                return
        cands[name] = fn

    try_candidate("fp8gemm", ours, FP8GEMM_MAX_DIFF, lambda out, s: out[s[1]])
    sa_row = row_major_sa(sa)
    try_candidate("rowsa", lambda: ours(sa_row), FP8GEMM_MAX_DIFF, lambda out, s: out[s[1]])
    sa_row_copied = row_major_sa(sa, unaligned_row_stride(kb))
    try_candidate("rowsa_copy", lambda: ours(sa_row_copied), FP8GEMM_MAX_DIFF, lambda out, s: out[s[1]])

    a_bf16 = dequantize_1x128(a, sa).to(torch.bfloat16)
    if layout == "masked":
        b_t = b_bf16.transpose(1, 2)
        aq, as_ = _rowwise(a_bf16, dim=2)  # [G, Mmax, K], [G, Mmax]
        bq_t = bq.transpose(1, 2)
        try_candidate("bf16_grouped", lambda: torch._grouped_mm(a_bf16, b_t), math.inf, lambda o, s: o[s[1]])
        try_candidate(
            "fp8_rowwise_grouped",
            lambda: torch._scaled_grouped_mm(aq, bq_t, as_, bs, out_dtype=torch.bfloat16),
            PEER_MAX_DIFF,
            lambda o, s: o[s[1]],
        )
    else:
        ends = torch.tensor([s0 + s for s0, s in zip(starts, sizes)], dtype=torch.int32, device="cuda")
        if layout == "contiguous":  # the padding rows belong to their group for the peers
            ends = torch.tensor([s0 + ceil_div(s, 128) * 128 for s0, s in zip(starts, sizes)], dtype=torch.int32,
                                device="cuda")
        b_t = b_bf16.transpose(1, 2)
        aq, as_ = _rowwise(a_bf16, dim=1)
        bq_t = bq.transpose(1, 2)
        try_candidate("bf16_grouped", lambda: torch._grouped_mm(a_bf16, b_t, offs=ends), math.inf,
                      lambda o, s: o[s[1]])
        try_candidate(
            "fp8_rowwise_grouped",
            lambda: torch._scaled_grouped_mm(aq, bq_t, as_, bs, offs=ends, out_dtype=torch.bfloat16),
            PEER_MAX_DIFF,
            lambda o, s: o[s[1]],
        )
    if k % 128 == 0:
        # cuBLAS blockwise refuses row counts that are not multiples of 16
        # (CUBLAS_STATUS_NOT_SUPPORTED): each group runs on its rows rounded up to 16
        # (the extra rows are the next group's, or spare rows past M), as a user would.
        def padded(gi: int, sl: tuple) -> tuple:
            rows = sl[-1]
            stop = rows.start + ceil_div(sizes[gi], 16) * 16
            return (*sl[:-1], slice(rows.start, stop))

        if layout == "masked":
            src_a, src_sa = a, sa
        else:
            src_a, src_sa = a_buf, sa_buf
        calls = []
        for gi, sl in slices:
            if sizes[gi] > 0:
                psl = padded(gi, sl)
                sa_g = src_sa[psl].t().contiguous().t()
                calls.append((gi, blockwise_scaled_mm(src_a[psl], sa_g, b[gi], sb[gi])))

        def loop() -> list[torch.Tensor]:
            return [fn() for _, fn in calls]

        order = {gi: j for j, (gi, _) in enumerate(calls)}
        try_candidate("cublas_loop", loop, 1e-4, lambda outs, s: outs[order[s[0]]][: sizes[s[0]]])
    else:
        notes["cublas_loop"] = "not run: K % 128 != 0"

    nonempty = sum(1 for s in sizes if s > 0)
    nbytes = nonempty * n * k + rows_total * (k + 4 * kb + 2 * n) + nonempty * ceil_div(n, 128) * kb * 4
    cands["read"] = streaming_read(nbytes)
    cands["read_sum"] = torch_sum_read(nbytes)
    times = _time_round_robin(cands, rounds, rep, warmup)
    row["times"] = times
    row["notes"] = notes
    row["bytes"] = nbytes
    us = {name: t["median_us"] for name, t in times.items()}
    for name in ("fp8gemm", "bf16_grouped", "fp8_rowwise_grouped", "cublas_loop", "rowsa", "rowsa_copy"):
        row[f"{name}_us"] = us.get(name)
    reads = [us[r] for r in ("read", "read_sum") if us.get(r)]
    row["read_us"] = min(reads) if reads else None
    if row["fp8gemm_us"]:
        row["tflops"] = 2.0 * rows_total * n * k / row["fp8gemm_us"] / 1e6
        row["gbps"] = nbytes / row["fp8gemm_us"] / 1e3
        for peer in ("bf16_grouped", "fp8_rowwise_grouped", "cublas_loop"):
            if us.get(peer):
                row[f"speedup_vs_{peer}"] = us[peer] / row["fp8gemm_us"]
        if row["read_us"]:
            row["x_read"] = row["fp8gemm_us"] / row["read_us"]  # issue 3's decode target: <= 1.10
        for name in ("rowsa", "rowsa_copy"):
            if us.get(name):
                row[f"{name}_over_canonical"] = us[name] / row["fp8gemm_us"]
    add_floor(row, 2.0 * rows_total * n * k, ceilings)
    return row


GROUPED_BENCH_SHAPES: list[tuple[str, int, int, int, int]] = (
    [("contiguous", *s) for s in CONTIGUOUS_SHAPES]
    + [("masked", *s) for s in MASKED_SHAPES]
    + [("offset", *s) for s in OFFSET_SHAPES]
)
QUICK_SHAPES: list[tuple[str, int, int, int, int]] = [
    ("contiguous", 4, 2048, 4096, 7168),
    ("masked", 32, 8, 4096, 7168),
    ("offset", 9, 32, 4096, 7168),
]


def run_grouped(
    fp8gemm: Any,
    shapes: list[tuple[str, int, int, int, int]],
    *,
    quick: bool = False,
    log: Callable[[str], None] = print,
    ceilings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Benchmark (layout, G, rows per group, N, K) shapes (GROUPED_BENCH_SHAPES, QUICK_SHAPES
    or the user's); `log` is called before each."""
    todo = shapes
    rounds, rep, warmup = (2, 10, 3) if quick else (5, 20, 5)
    rows = []
    for i, (layout, g, e, n, k) in enumerate(todo):
        log(f"{layout} G={g} rows/group={e} N={n} K={k}")
        rows.append(bench_grouped_shape(fp8gemm, layout, g, e, n, k, rounds=rounds, rep=rep, warmup=warmup,
                                        seed=2000 + i, ceilings=ceilings))
        torch.cuda.empty_cache()
    head = [r.get("tflops") for r in rows if (r["layout"], (r["g"], r["rows_per_group"], r["n"], r["k"])) == HEADLINE]
    return {
        "settings": {"rounds": rounds, "rep_per_round": rep, "warmup": warmup, "l2_flush_bytes": 256 << 20},
        "rows": rows,
        "tflops_contiguous_4x8192x4096x7168": head[0] if head else None,
    }


def format_grouped_table(result: dict[str, Any]) -> str:
    lines = table_lines(
        [
            [("layout", "<10", "layout"), ("G", ">3", "g"), ("rows", ">5", "rows_per_group"), ("N", ">5", "n"),
             ("K", ">5", "k")],
            [("config", "<18", lambda r: _config_str(r.get("config")))],
            [("us", "8.1f", "fp8gemm_us"), ("TFLOPS", "6.0f", "tflops"), ("GB/s", "5.0f", "gbps"),
             ("%floor", "6.0f", "pct_of_floor")],
            [("bf16", "8.1f", "bf16_grouped_us"), ("fp8row", "8.1f", "fp8_rowwise_grouped_us"),
             ("cuBLASx", "8.1f", "cublas_loop_us"), ("read", "7.1f", "read_us")],
            [("x bf16", "6.2f", "speedup_vs_bf16_grouped"), ("x row", "6.2f", "speedup_vs_fp8_rowwise_grouped"),
             ("x loop", "6.2f", "speedup_vs_cublas_loop"), ("/read", "6.2f", "x_read")],
            [("row-sa", "6.3f", "rowsa_over_canonical"), ("copied", "6.3f", "rowsa_copy_over_canonical")],
        ],
        result["rows"],
    )
    for r in result["rows"]:
        for name, note in r.get("notes", {}).items():
            lines.append(f"  note {r['layout']} G={r['g']} rows={r['rows_per_group']} N={r['n']} K={r['k']} {name}: {note}")
    lines.append(rowsa_summary(result["rows"]))
    if result.get("tflops_contiguous_4x8192x4096x7168") is not None:
        lines.append(f"TFLOPS contiguous (4, 8192, 4096, 7168): {result['tflops_contiguous_4x8192x4096x7168']:.0f}")
    return "\n".join(lines)
