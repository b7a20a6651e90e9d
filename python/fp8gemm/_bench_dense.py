"""Dense NT benchmark: fp8gemm.gemm_nt against cuBLAS blockwise FP8 and bf16 cuBLAS.

Used by ``python -m fp8gemm.bench`` and ``benchmarks/bench_gemm.py``. Needs an sm_90 GPU.

Peers:
- cuBLAS blockwise: ``torch._scaled_mm(a, b.t(), scale_a, scale_b, out_dtype=bf16)`` with
  1x128 activation scales and 128x128 weight scales. torch's checks (ScaledBlas.cpp,
  ``is_blockwise_1x128_scaling`` / ``is_blockwise_128x128_scaling``, applied to ``scale_b.t()``
  against ``mat2.t()``) require ``scale_a`` ``[M, Kb]`` with strides ``(1, M)`` (column-major,
  leading dimension exactly M) and ``scale_b`` ``[Kb, Nb]`` with strides ``(1, Kb)``, i.e. the
  transpose of a row-major ``[Nb, Kb]``; ``use_fast_accum`` must be False. (Builds from
  before pytorch#164953, Oct 2025, wanted the row stride of ``[Nb, Kb]`` padded to a
  multiple of 4; that variant is tried when the first is refused.)
  With ``K % 128 != 0`` it returns wrong results or faults (DESIGN.md), so it is not run there.
- bf16: ``torch.matmul(a_bf16, b_bf16.t())`` on the dequantized inputs.
- no-swap (decode shapes where fp8gemm takes the swap-AB kernel): fp8gemm with
  ``set_swap_ab(False)``, i.e. the 1D2D kernel: the before/after of issue 4.
- read: ``streaming_read`` (a Triton streaming read) and ``torch_sum_read`` of the weight
  bytes (N x K) after the same L2 flush, timed in the same round-robin; the faster of the
  two is the decode floor of the shape; ``x_read`` = fp8gemm / read.
- rowsa: fp8gemm with the same activation scales row-major ``[M, Kb]`` (rows 16-byte
  aligned), which the kernels read in place; ``rowsa_over_canonical`` = its time / fp8gemm's.
- floor: the larger of the bandwidth floor (the bytes the GEMM must move at the read
  bandwidth measured in the same run, ``measure_read_bandwidth``) and the compute floor
  (the flops at the FP8 peak measured in the same run, ``measure_fp8_peak``). A lower
  bound: no kernel can beat it, and launch overheads are not in it.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any, Callable

import torch

from .testing import bench_kernel, calc_diff, host_cost_us, random_fp8_problem, reference_gemm_nt, row_major_sa
from .quant import dequantize_128x128, dequantize_1x128
from .utils import ceil_div

# (N, K) of the dense DeepSeek-V3 layers, timed at three token counts. tests/shapes.py
# re-exports these so the tests and the benchmark share one list.
DENSE_NK: list[tuple[int, int]] = [
    (2112, 7168),
    (24576, 1536),
    (32768, 512),
    (7168, 16384),
    (4096, 7168),
    (7168, 2048),
    (7168, 576),
]
DENSE_M: tuple[int, ...] = (64, 128, 4096)
DENSE_BENCH_SHAPES: list[tuple[int, int, int]] = [(m, n, k) for m in DENSE_M for n, k in DENSE_NK]
HEADLINE_SHAPE = (4096, 7168, 16384)
HOST_COST_SHAPE = (64, 2112, 7168)

FP8GEMM_MAX_DIFF = 1e-5  # SPEC.md
PEER_MAX_DIFF = 1e-4  # looser: only to catch a peer that silently computes garbage


def blockwise_scaled_mm(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, pad_sb: bool = False
) -> Callable[[], torch.Tensor]:
    """Return a closure calling cuBLAS blockwise FP8 through ``torch._scaled_mm``.

    ``sa`` is any layout of ``[M, Kb]`` (re-laid out once, outside the closure, to the
    column-major leading-dimension-M layout cuBLAS requires); ``sb`` is ``[Nb, Kb]``.
    ``pad_sb`` pads the row stride of ``sb`` to a multiple of 4 (older torch builds).
    """
    sa_cublas = sa.t().contiguous().t()  # strides (1, M)
    if pad_sb:
        nb, kb = sb.shape
        padded = torch.zeros(nb, ceil_div(kb, 4) * 4, dtype=sb.dtype, device=sb.device)
        padded[:, :kb] = sb
        sb_cublas = padded[:, :kb].t()  # [Kb, Nb], strides (1, align(Kb, 4))
    else:
        sb_cublas = sb.contiguous().t()  # [Kb, Nb], strides (1, Kb)
    mat2 = b.t()  # [K, N] column-major

    def run() -> torch.Tensor:
        return torch._scaled_mm(a, mat2, scale_a=sa_cublas, scale_b=sb_cublas, out_dtype=torch.bfloat16)

    return run


def streaming_read(nbytes: int) -> Callable[[], Any]:
    """One streaming pass over `nbytes` of device memory: the bandwidth floor of a shape.

    A persistent grid-stride Triton kernel (one launch, no allocation) where Triton is
    installed, else `torch.sum` (which launches more and allocates, so it reads slower:
    a slow floor flatters every ratio taken against it)."""
    buf = torch.ones(max(1, nbytes // 4), dtype=torch.float32, device="cuda")
    try:
        from ._read_floor import triton_read
    except ImportError:
        return lambda: buf.sum()
    return triton_read(buf)


def torch_sum_read(nbytes: int) -> Callable[[], Any]:
    """The same pass through `torch.sum` (the floor without Triton), timed beside it."""
    buf = torch.ones(max(1, nbytes // 4), dtype=torch.float32, device="cuda")
    return lambda: buf.sum()


def measure_fp8_peak(size: int = 8192, rep: int = 10) -> float:
    """TFLOPS of cuBLAS FP8 with per-tensor scales on a size^3 GEMM: the compute ceiling
    the floors use (measured, since clocks and parts differ)."""
    a = torch.randn(size, size, device="cuda").to(torch.float8_e4m3fn)
    b = torch.randn(size, size, device="cuda").to(torch.float8_e4m3fn).t()
    one = torch.ones((), device="cuda")
    t = bench_kernel(lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16),
                     warmup=3, rep=rep)["median_us"]
    return 2.0 * size**3 / t / 1e6


def measure_read_bandwidth(nbytes: int = 1 << 30) -> float:
    """GB/s of one streaming read over `nbytes` (after an L2 flush): the bandwidth ceiling
    (the faster of the two reads)."""
    t = min(bench_kernel(read, warmup=2, rep=10)["median_us"] for read in (streaming_read(nbytes),
                                                                           torch_sum_read(nbytes)))
    return nbytes / t / 1e3


def add_floor(row: dict[str, Any], flops: float, ceilings: dict[str, float] | None) -> None:
    """floor_us = max(bytes at the measured read bandwidth, flops at the measured FP8 peak);
    pct_of_floor = floor_us / fp8gemm_us in percent. `ceilings`: fp8_peak_tflops, read_gbps."""
    ceilings = ceilings or {}
    floors = []
    if ceilings.get("read_gbps") and row.get("bytes"):
        row["bandwidth_floor_us"] = row["bytes"] / ceilings["read_gbps"] / 1e3
        floors.append(row["bandwidth_floor_us"])
    if ceilings.get("fp8_peak_tflops"):
        row["compute_floor_us"] = flops / ceilings["fp8_peak_tflops"] / 1e6
        floors.append(row["compute_floor_us"])
    row["floor_us"] = max(floors) if floors else None
    if row["floor_us"] and row.get("fp8gemm_us"):
        row["pct_of_floor"] = 100.0 * row["floor_us"] / row["fp8gemm_us"]


def _config_str(cfg: dict[str, Any] | None) -> str:
    if not cfg:
        return "?"
    text = f"{cfg.get('block_m')}x{cfg.get('block_n')}x{cfg.get('block_k')} s{cfg.get('stages')}"
    if cfg.get("multicast", "none") != "none":
        text += f" mc={cfg['multicast']}"
        if cfg.get("cluster", 2) != 2:
            text += f"/c{cfg.get('cluster')}"
    if cfg.get("swap_ab"):
        text += " swap" + (f"/k{cfg['cluster']}" if cfg.get("cluster", 1) > 1 else "")
    return text


def _bytes_moved(m: int, n: int, k: int, out_bytes: int = 2) -> int:
    """Bytes of a, b (fp8), sa, sb (fp32) read and the output written, each once."""
    kb = ceil_div(k, 128)
    return m * k + n * k + 4 * m * kb + 4 * ceil_div(n, 128) * kb + out_bytes * m * n


def _time_round_robin(
    cands: dict[str, Callable[[], Any]], rounds: int, rep: int, warmup: int, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Time candidates in turn for several rounds (a new order each round), pooling samples.

    Kernels timed one after another read differently by position and by what ran just
    before (clocks, power), so each round shuffles the order (seeded: the same orders every
    run) and every candidate's median is over all its rounds. A plain rotation keeps each
    candidate's predecessor when there are more candidates than rounds (measured on
    1.5 ms grouped shapes, 8 candidates, 5 rounds: the same kernel after a small relayout
    copy read 1.09-1.15x its time as the plain candidate; 0.98-1.00x once shuffled).
    Round r's order comes from seed + r, so every run repeats the same orders; another
    `seed` shows whether a lead is a position effect (benchmarks/NOTES.md #80).
    """
    names = list(cands)
    if not names:
        return {}
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[:]
        random.Random(seed + r).shuffle(order)
        for name in order:
            samples[name] += bench_kernel(cands[name], warmup=warmup if r == 0 else 1, rep=rep)["times_us"]
    return {
        name: {
            "median_us": statistics.median(ts),
            "min_us": min(ts),
            "mean_us": statistics.fmean(ts),
            "max_us": max(ts),
            "samples": len(ts),
            "round_medians_us": [statistics.median(ts[i * rep : (i + 1) * rep]) for i in range(rounds)],
        }
        for name, ts in samples.items()
    }


def bench_shape(
    fp8gemm: Any, m: int, n: int, k: int, *, rounds: int, rep: int, warmup: int, seed: int,
    ceilings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Check and time the three candidates on one shape; return a JSON-ready row."""
    row: dict[str, Any] = {"m": m, "n": n, "k": k}
    try:
        row["config"] = fp8gemm.select_config("gemm_nt", m, n, k)
    except Exception as exc:  # the benchmark still runs without the config column
        row["config"] = None
        row["config_error"] = f"{type(exc).__name__}: {exc}"

    p = random_fp8_problem(m, n, k, "cuda", seed=seed)
    a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
    ref = reference_gemm_nt(a, sa, b, sb)
    cands: dict[str, Callable[[], Any]] = {}
    notes: dict[str, str] = {}

    def try_candidate(name: str, fn: Callable[[], torch.Tensor], max_diff: float) -> None:
        try:
            out = fn()
            torch.cuda.synchronize()
        except Exception as exc:  # a peer (or fp8gemm) refusing a shape is a result, not a crash
            notes[name] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return
        diff = calc_diff(out, ref)
        row[f"{name}_diff"] = diff
        if not diff < max_diff:  # also catches NaN
            notes[name] = f"wrong result: calc_diff = {diff:.3e}"
            if name != "fp8gemm":
                return
        cands[name] = fn

    try_candidate("fp8gemm", lambda: fp8gemm.gemm_nt(a, sa, b, sb), FP8GEMM_MAX_DIFF)
    # The same call with row-major [M, Kb] activation scales (what most quantizers write;
    # rows 16-byte aligned): read in place where a kernel can (issue 4: within 3%).
    sa_row = row_major_sa(sa)
    try_candidate("rowsa", lambda: fp8gemm.gemm_nt(a, sa_row, b, sb), FP8GEMM_MAX_DIFF)
    # ... and with rows that are not 16-byte aligned, which the op copies into the canonical
    # layout first (what every row-major call cost before the in-place readers).
    sa_row_copied = row_major_sa(sa, unaligned_row_stride(sa.shape[-1]))
    try_candidate("rowsa_copy", lambda: fp8gemm.gemm_nt(a, sa_row_copied, b, sb), FP8GEMM_MAX_DIFF)
    if (row.get("config") or {}).get("swap_ab"):

        def noswap() -> torch.Tensor:
            fp8gemm.set_swap_ab(False)
            try:
                return fp8gemm.gemm_nt(a, sa, b, sb)
            finally:
                fp8gemm.set_swap_ab(True)

        try_candidate("noswap", noswap, FP8GEMM_MAX_DIFF)
    if k % 128 != 0:
        notes["cublas_blockwise"] = "not run: K % 128 != 0 (cuBLAS blockwise gives wrong results / faults)"
    else:
        try_candidate("cublas_blockwise", blockwise_scaled_mm(a, sa, b, sb), PEER_MAX_DIFF)
        if "Invalid scaling configuration" in notes.get("cublas_blockwise", ""):
            del notes["cublas_blockwise"]
            try_candidate("cublas_blockwise", blockwise_scaled_mm(a, sa, b, sb, pad_sb=True), PEER_MAX_DIFF)
            row["cublas_blockwise_padded_sb"] = True
    a_bf16 = dequantize_1x128(a, sa).to(torch.bfloat16)
    b_bf16 = dequantize_128x128(b, sb).to(torch.bfloat16)
    try_candidate("bf16", lambda: torch.matmul(a_bf16, b_bf16.t()), math.inf)
    flops, nbytes = 2.0 * m * n * k, _bytes_moved(m, n, k)
    if m <= 128:  # decode shapes: the weight stream is the floor (the faster of two reads)
        cands["read"] = streaming_read(n * k)
        cands["read_sum"] = torch_sum_read(n * k)

    times = _time_round_robin(cands, rounds, rep, warmup)
    row["times"] = times
    row["notes"] = notes
    us = {name: t["median_us"] for name, t in times.items()}
    row["fp8gemm_us"] = us.get("fp8gemm")
    row["cublas_blockwise_us"] = us.get("cublas_blockwise")
    row["bf16_us"] = us.get("bf16")
    row["noswap_us"] = us.get("noswap")
    reads = [us[r] for r in ("read", "read_sum") if us.get(r)]
    row["read_us"] = min(reads) if reads else None
    row["rowsa_us"] = us.get("rowsa")
    row["rowsa_copy_us"] = us.get("rowsa_copy")
    row["bytes"] = nbytes
    if row["fp8gemm_us"]:
        row["tflops"] = flops / row["fp8gemm_us"] / 1e6
        row["gbps"] = nbytes / row["fp8gemm_us"] / 1e3
        for peer in ("cublas_blockwise", "bf16", "noswap"):
            if us.get(peer):
                row[f"speedup_vs_{peer}"] = us[peer] / row["fp8gemm_us"]
        if row["read_us"]:
            row["x_read"] = row["fp8gemm_us"] / row["read_us"]
        if us.get("rowsa"):
            row["rowsa_over_canonical"] = us["rowsa"] / row["fp8gemm_us"]
        if us.get("rowsa_copy"):
            row["rowsa_copy_over_canonical"] = us["rowsa_copy"] / row["fp8gemm_us"]
    add_floor(row, flops, ceilings)
    return row


QUICK_SHAPES: list[tuple[int, int, int]] = [(64, 2112, 7168), (128, 7168, 2048), (4096, 4096, 7168)]


def run_dense(
    fp8gemm: Any,
    shapes: list[tuple[int, int, int]],
    *,
    quick: bool = False,
    log: Callable[[str], None] = print,
    ceilings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Benchmark every shape (DENSE_BENCH_SHAPES, QUICK_SHAPES or the user's); return rows
    plus the summary numbers (JSON-ready). `log` is called before each shape."""
    rounds, rep, warmup = (2, 10, 3) if quick else (5, 20, 5)
    rows = []
    for i, (m, n, k) in enumerate(shapes):
        log(f"dense m={m} n={n} k={k}")
        rows.append(bench_shape(fp8gemm, m, n, k, rounds=rounds, rep=rep, warmup=warmup, seed=1000 + i,
                                ceilings=ceilings))
        torch.cuda.empty_cache()

    ratios = [r["speedup_vs_cublas_blockwise"] for r in rows if "speedup_vs_cublas_blockwise" in r]
    headline = [r.get("tflops") for r in rows if (r["m"], r["n"], r["k"]) == HEADLINE_SHAPE]
    result: dict[str, Any] = {
        "settings": {"rounds": rounds, "rep_per_round": rep, "warmup": warmup, "l2_flush_bytes": 256 << 20},
        "rows": rows,
        "geomean_speedup_vs_cublas_blockwise": math.exp(statistics.fmean(map(math.log, ratios))) if ratios else None,
        "geomean_over_shapes": len(ratios),
        "tflops_4096x7168x16384": headline[0] if headline else None,
        "host_cost_us": measure_host_cost(fp8gemm),
    }
    return result


def unaligned_row_stride(kb: int) -> int:
    """A row stride >= kb floats that is not a multiple of 4 (rows not 16-byte aligned)."""
    return kb + 1 if (kb + 1) % 4 else kb + 2


def rowsa_summary(rows: list[dict[str, Any]]) -> str:
    """Row-major scales' time over the canonical layout's (geomean and range), read in place
    and copied first."""
    parts = []
    for key, what in (("rowsa_over_canonical", "read in place"), ("rowsa_copy_over_canonical", "copied")):
        r = [row[key] for row in rows if row.get(key)]
        if r:
            geo = math.exp(statistics.fmean(map(math.log, r)))
            parts.append(f"{what}: geomean {geo:.3f}, min {min(r):.3f}, max {max(r):.3f} over {len(r)} shapes")
    return "row-major scales / canonical: " + ("; ".join(parts) if parts else "-")


HOST_COST_ROUNDS = 7  # rounds of 200 calls per candidate; the median is reported
HOST_COST_CALLS = 200


def measure_host_cost(fp8gemm: Any, shape: tuple[int, int, int] = HOST_COST_SHAPE,
                      rounds: int = HOST_COST_ROUNDS) -> dict[str, Any]:
    """CPU microseconds per call of fp8gemm.gemm_nt and of the cuBLAS blockwise call: the
    median (and min) over `rounds` rounds of 200 calls each, the two candidates alternating
    round by round. One round alone moved by 1.4x between two runs on the same host (15.8
    and 11.0 us on an H200 machine, against 10.1 us as a median of 7; benchmarks/NOTES.md #53)."""
    m, n, k = shape
    p = random_fp8_problem(m, n, k, "cuda", seed=7)
    a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
    cost: dict[str, Any] = {"shape": list(shape), "rounds": rounds, "calls_per_round": HOST_COST_CALLS}
    calls = {"fp8gemm": lambda: fp8gemm.gemm_nt(a, sa, b, sb), "cublas_blockwise": blockwise_scaled_mm(a, sa, b, sb)}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            if f"{name}_error" in cost:
                continue
            try:
                samples[name].append(host_cost_us(calls[name], n=HOST_COST_CALLS))
            except Exception as exc:
                cost[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    for name, vals in samples.items():
        ok = bool(vals) and f"{name}_error" not in cost
        cost[name] = statistics.median(vals) if ok else None
        cost[f"{name}_min"] = min(vals) if ok else None
    return cost


def _fmt(x: float | None, spec: str) -> str:
    """``format(x, spec)``, or a dash padded to the same width when x is missing."""
    width = int(spec.split(".")[0] or 0)
    return "-".rjust(width) if x is None else format(x, spec)


# A report column: (header, format, value). A format starting with < or > formats a plain
# value (and its header) as is; any other is a measurement's float format, "-" when missing
# (header right-aligned to its width). value: a row key, or a function of the row.
Column = tuple[str, str, "str | Callable[[dict[str, Any]], Any]"]


def table_lines(groups: list[list[Column]], rows: list[dict[str, Any]]) -> list[str]:
    """A header, a rule and one line per row: the columns of a group apart by a space, the
    groups by " | "; rows with an fp8gemm note flagged " !"."""

    def header(title: str, fmt: str) -> str:
        return format(title, fmt if fmt[0] in "<>" else ">" + fmt.split(".")[0])

    def cell(row: dict[str, Any], fmt: str, value: Any) -> str:
        v = value(row) if callable(value) else row.get(value)
        return format(v, fmt) if fmt[0] in "<>" else _fmt(v, fmt)

    head = " | ".join(" ".join(header(t, f) for t, f, _ in g) for g in groups)
    lines = [head, "-" * len(head)]
    for r in rows:
        flag = " !" if "fp8gemm" in r.get("notes", {}) else ""
        lines.append(" | ".join(" ".join(cell(r, f, v) for _, f, v in g) for g in groups) + flag)
    return lines


def format_table(result: dict[str, Any]) -> str:
    """The human-readable report: one line per shape, then the summary."""
    lines = table_lines(
        [
            [("M", ">5", "m"), ("N", ">6", "n"), ("K", ">6", "k")],
            [("config", "<22", lambda r: _config_str(r.get("config")))],
            [("fp8gemm us", "10.1f", "fp8gemm_us"), ("TFLOPS", "7.0f", "tflops"), ("GB/s", "6.0f", "gbps"),
             ("% floor", "7.0f", "pct_of_floor")],
            [("cuBLAS-bw us", "12.1f", "cublas_blockwise_us"), ("bf16 us", "8.1f", "bf16_us"),
             ("floor us", "8.1f", "floor_us")],
            [("x bw", "5.2f", "speedup_vs_cublas_blockwise"), ("x bf16", "6.2f", "speedup_vs_bf16")],
            [("no-swap us", "10.1f", "noswap_us"), ("read us", "7.1f", "read_us"), ("/read", "5.2f", "x_read")],
            [("row-sa", "6.3f", "rowsa_over_canonical"), ("copied", "6.3f", "rowsa_copy_over_canonical")],
        ],
        result["rows"],
    )
    for r in result["rows"]:
        for name, note in r.get("notes", {}).items():
            lines.append(f"  note m={r['m']} n={r['n']} k={r['k']} {name}: {note}")
    geo = result.get("geomean_speedup_vs_cublas_blockwise")
    lines.append(
        f"geomean speedup vs cuBLAS blockwise: {_fmt(geo, '.3f')} over {result.get('geomean_over_shapes', 0)} shapes"
    )
    lines.append(rowsa_summary(result["rows"]))
    if result.get("tflops_4096x7168x16384") is not None:
        lines.append(f"TFLOPS at 4096x7168x16384: {_fmt(result.get('tflops_4096x7168x16384'), '.0f')}")
    hc = result.get("host_cost_us") or {}
    lines.append(
        f"host cost per call (m,n,k={tuple(hc.get('shape', ()))}; median of {hc.get('rounds', 1)} x {hc.get('calls_per_round', 200)} calls): "
        f"fp8gemm.gemm_nt {_fmt(hc.get('fp8gemm'), '.1f')} us, "
        f"cuBLAS blockwise {_fmt(hc.get('cublas_blockwise'), '.1f')} us"
    )
    return "\n".join(lines)
