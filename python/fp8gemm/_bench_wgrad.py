"""Weight-gradient benchmark: fp8gemm.wgrad_gemm_nt_out and k_grouped_wgrad_gemm_nt_out
(accumulating into an fp32 gradient buffer) against their peers.

Used by ``python -m fp8gemm.bench --family wgrad``. Needs an sm_90 GPU.

Peers, timed round-robin with fp8gemm after the same L2 flush:
- ``cublas_pair``: cuBLAS blockwise FP8 through ``torch._scaled_mm`` with 1x128 scales on
  both operands and an fp32 result, then ``acc.add_(result)``: two kernels, the way to get
  ``acc += a @ b.T`` from cuBLAS (``scale_a`` ``[M, Kb]`` with strides ``(1, M)``,
  ``scale_b`` ``[Kb, N]`` contiguous, i.e. the transpose of ``[N, Kb]`` column-major).
- ``bf16``: ``torch.matmul`` of the dequantized bf16 operands (bf16 result, no accumulate).
- k-grouped also: ``dense_same_k``, fp8gemm's dense op on one problem with the groups' total K
  (the throughput the k-grouped op is measured against), and ``cublas_loop``, the cuBLAS
  pair once per group (2 G kernels, group sizes known to the host).
Correctness before timing: fp8gemm's product against the cuBLAS result (the same fp32
math; calc_diff < 1e-5), or against the float64 reference when cuBLAS refuses the shape.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ._bench_dense import _fmt, _time_round_robin, table_lines
from .quant import dequantize_1x128, k_grouped_cast_to_fp8, per_token_cast_to_fp8
from .testing import calc_diff, random_wgrad_operand, reference_gemm_nt
from .utils import ceil_div

WGRAD_MN: list[tuple[int, int]] = [(7168, 2112), (1536, 24576), (7168, 4096), (2048, 7168), (512, 32768), (16384, 7168)]
WGRAD_K: tuple[int, ...] = (4096, 8192)
# ("dense", M, N, K) and ("k_grouped", G, K per group, M, N)
WGRAD_BENCH_SHAPES: list[tuple] = [("dense", m, n, k) for (m, n) in WGRAD_MN for k in WGRAD_K] + [
    ("k_grouped", g, kg, m, n) for (g, kg) in ((4, 4096), (4, 8192), (8, 4096)) for (m, n) in ((7168, 4096), (2048, 7168))
]
QUICK_SHAPES: list[tuple] = [("dense", 7168, 4096, 4096), ("k_grouped", 4, 4096, 7168, 4096)]
HEADLINE = ("dense", 7168, 4096, 4096)

FP8GEMM_MAX_DIFF = 1e-5


def cublas_wgrad(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A closure: cuBLAS blockwise ``a @ b.T`` with 1x128 scales on both sides, fp32 out."""
    sa_c = sa.t().contiguous().t()  # [M, Kb], strides (1, M)
    sb_c = sb.t().contiguous()  # [Kb, N] contiguous: scale_b.t() is [N, Kb] with strides (1, N)
    mat2 = b.t()

    def run() -> torch.Tensor:
        return torch._scaled_mm(a, mat2, scale_a=sa_c, scale_b=sb_c, out_dtype=torch.float32)

    return run


def _operands(m: int, n: int, k: int, seed: int) -> tuple[torch.Tensor, ...]:
    a, sa = per_token_cast_to_fp8(random_wgrad_operand(m, k, seed=seed))
    b, sb = per_token_cast_to_fp8(random_wgrad_operand(n, k, seed=seed + 1))
    return a, sa, b, sb


def _row(fp8gemm: Any, row: dict[str, Any], cands: dict[str, Callable[[], Any]], notes: dict[str, str], flops: float,
         rounds: int, rep: int, warmup: int) -> dict[str, Any]:
    times = _time_round_robin(cands, rounds, rep, warmup)
    row["times"] = times
    row["notes"] = notes
    us = {name: t["median_us"] for name, t in times.items()}
    for name in ("fp8gemm", "cublas_pair", "bf16", "dense_same_k", "cublas_loop"):
        row[f"{name}_us"] = us.get(name)
    if us.get("fp8gemm"):
        row["tflops"] = flops / us["fp8gemm"] / 1e6
        for peer in ("cublas_pair", "bf16", "cublas_loop"):
            if us.get(peer):
                row[f"speedup_vs_{peer}"] = us[peer] / us["fp8gemm"]
        if us.get("dense_same_k"):
            row["x_dense_same_k"] = us["dense_same_k"] / us["fp8gemm"]  # target >= 0.95
    return row


def bench_dense(fp8gemm: Any, m: int, n: int, k: int, *, rounds: int, rep: int, warmup: int, seed: int) -> dict:
    row: dict[str, Any] = {"kind": "dense", "m": m, "n": n, "k": k, "g": 1}
    row["config"] = fp8gemm.select_config("wgrad_gemm_nt", m, n, k)
    a, sa, b, sb = _operands(m, n, k, seed)
    notes: dict[str, str] = {}
    cands: dict[str, Callable[[], Any]] = {}
    prod = fp8gemm.wgrad_gemm_nt(a, sa, b, sb)
    cublas = cublas_wgrad(a, sa, b, sb)
    try:
        ref = cublas()
        row["checked_against"] = "cublas"
    except Exception as exc:  # pragma: no cover - depends on the torch build
        notes["cublas_pair"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ref = reference_gemm_nt(a, sa, b, sb)
        row["checked_against"] = "float64"
    row["fp8gemm_diff"] = calc_diff(prod, ref)
    if not row["fp8gemm_diff"] < FP8GEMM_MAX_DIFF:
        notes["fp8gemm"] = f"wrong result: calc_diff = {row['fp8gemm_diff']:.3e}"
    del prod, ref
    acc = torch.zeros(m, n, device="cuda")
    cands["fp8gemm"] = lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc)
    if "cublas_pair" not in notes:
        cands["cublas_pair"] = lambda: acc.add_(cublas())
    a16 = dequantize_1x128(a, sa).to(torch.bfloat16)
    b16 = dequantize_1x128(b, sb).to(torch.bfloat16)
    cands["bf16"] = lambda: torch.matmul(a16, b16.t())
    return _row(fp8gemm, row, cands, notes, 2.0 * m * n * k, rounds, rep, warmup)


def bench_k_grouped(fp8gemm: Any, g: int, kg: int, m: int, n: int, *, rounds: int, rep: int, warmup: int,
                    seed: int) -> dict:
    row: dict[str, Any] = {"kind": "k_grouped", "g": g, "k_per_group": kg, "m": m, "n": n, "k": g * kg}
    row["config"] = fp8gemm.select_config("k_grouped_wgrad_gemm_nt", m, n, kg, num_groups=g)
    ks = [kg] * g
    xa = [random_wgrad_operand(m, kg, seed=seed + 2 * i) for i in range(g)]
    xb = [random_wgrad_operand(n, kg, seed=seed + 2 * i + 1) for i in range(g)]
    a, sa = k_grouped_cast_to_fp8(xa)
    b, sb = k_grouped_cast_to_fp8(xb)
    del xa, xb
    ks_t = torch.tensor(ks, dtype=torch.int32, device="cuda")
    notes: dict[str, str] = {}
    cands: dict[str, Callable[[], Any]] = {}
    kb = ceil_div(kg, 128)
    groups = []
    for i in range(g):
        a_g = a[m * kg * i : m * kg * (i + 1)].view(m, kg)
        b_g = b[n * kg * i : n * kg * (i + 1)].view(n, kg)
        groups.append((a_g, sa[kb * i : kb * (i + 1)].t(), b_g, sb[kb * i : kb * (i + 1)].t()))
    prod = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks_t)
    try:
        pairs = [cublas_wgrad(*grp) for grp in groups]
        worst = max(calc_diff(prod[i], pairs[i]()) for i in range(g))
        row["checked_against"] = "cublas"
    except Exception as exc:  # pragma: no cover
        notes["cublas_loop"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        pairs = []
        worst = max(calc_diff(prod[i], reference_gemm_nt(*groups[i])) for i in range(g))
        row["checked_against"] = "float64"
    row["fp8gemm_diff"] = worst
    if not worst < FP8GEMM_MAX_DIFF:
        notes["fp8gemm"] = f"wrong result: calc_diff = {worst:.3e}"
    del prod
    acc = torch.zeros(g, m, n, device="cuda")
    cands["fp8gemm"] = lambda: fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks_t, acc)
    # The dense op on the same total K (one [M, G*Kg] x [N, G*Kg] problem).
    da, dsa, db, dsb = _operands(m, n, g * kg, seed + 999)
    dacc = torch.zeros(m, n, device="cuda")
    cands["dense_same_k"] = lambda: fp8gemm.wgrad_gemm_nt_out(da, dsa, db, dsb, dacc)
    if pairs:
        cands["cublas_loop"] = lambda: [acc[i].add_(pairs[i]()) for i in range(g)]
    return _row(fp8gemm, row, cands, notes, 2.0 * m * n * kg * g, rounds, rep, warmup)


def run_wgrad(fp8gemm: Any, shapes: list[tuple], *, quick: bool = False, log: Callable[[str], None] = print,
              ceilings: dict[str, float] | None = None) -> dict[str, Any]:
    """Benchmark ("dense", M, N, K) and ("k_grouped", G, K per group, M, N) shapes."""
    rounds, rep, warmup = (2, 10, 3) if quick else (4, 15, 5)
    rows = []
    for i, shape in enumerate(shapes):
        log(f"wgrad {shape}")
        if shape[0] == "dense":
            rows.append(bench_dense(fp8gemm, *shape[1:], rounds=rounds, rep=rep, warmup=warmup, seed=3000 + i))
        else:
            rows.append(bench_k_grouped(fp8gemm, *shape[1:], rounds=rounds, rep=rep, warmup=warmup, seed=3000 + i))
        torch.cuda.empty_cache()
    dense = [r["speedup_vs_cublas_pair"] for r in rows if r["kind"] == "dense" and r.get("speedup_vs_cublas_pair")]
    kgr = [r["x_dense_same_k"] for r in rows if r.get("x_dense_same_k")]
    return {
        "settings": {"rounds": rounds, "rep_per_round": rep, "warmup": warmup, "l2_flush_bytes": 256 << 20},
        "rows": rows,
        "min_speedup_vs_cublas_pair": min(dense) if dense else None,
        "geomean_speedup_vs_cublas_pair": math.exp(sum(map(math.log, dense)) / len(dense)) if dense else None,
        "min_k_grouped_x_dense": min(kgr) if kgr else None,
    }


def _cfg(cfg: dict | None) -> str:
    if not cfg:
        return "?"
    text = f"{cfg['block_m']}x{cfg['block_n']} s{cfg['stages']}"
    return text + (f" mc={cfg['multicast']}" if cfg.get("multicast", "none") != "none" else "")


def format_wgrad_table(result: dict[str, Any]) -> str:
    lines = table_lines(
        [
            [("kind", "<9", "kind"), ("G", ">2", "g"), ("M", ">6", "m"), ("N", ">6", "n"), ("K", ">6", "k")],
            [("config", "<14", lambda r: _cfg(r.get("config")))],
            [("us", "8.1f", "fp8gemm_us"), ("TFLOPS", "6.0f", "tflops")],
            [("cuBLAS+add", "10.1f", "cublas_pair_us"), ("bf16", "8.1f", "bf16_us"),
             ("dense K", "8.1f", "dense_same_k_us"), ("cuBLASx", "8.1f", "cublas_loop_us")],
            [("x pair", "6.2f", "speedup_vs_cublas_pair"), ("x bf16", "6.2f", "speedup_vs_bf16"),
             ("x loop", "6.2f", "speedup_vs_cublas_loop"), ("/dense", "6.2f", "x_dense_same_k")],
        ],
        result["rows"],
    )
    for r in result["rows"]:
        for name, note in r.get("notes", {}).items():
            lines.append(f"  note {r['kind']} G={r['g']} M={r['m']} N={r['n']} K={r['k']} {name}: {note}")
    lines.append(f"dense: min speedup vs cuBLAS pair {_fmt(result.get('min_speedup_vs_cublas_pair'), '.3f')}, "
                 f"geomean {_fmt(result.get('geomean_speedup_vs_cublas_pair'), '.3f')}; "
                 f"k-grouped: min throughput vs dense on the same K {_fmt(result.get('min_k_grouped_x_dense'), '.3f')}")
    return "\n".join(lines)
