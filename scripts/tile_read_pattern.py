"""Does the decode kernels' access pattern itself read slower than a flat streaming read?

  PYTHONPATH=python python3 scripts/tile_read_pattern.py [--rounds 3]

The swap-AB and 1D2D decode kernels pull their weights as tiles of ROWS rows x 128 bytes
(one 128-K block) per pipeline stage, each CTA walking its K range (or a 1/S share of it).
This times Triton kernels that read an [N, K] byte matrix in exactly that pattern (a grid of
N / ROWS x S programs, each loading [ROWS, KW bytes] per step over its share of K; Triton's
num_stages is passed, but 4 and 8 stages timed the same, so the loop was not pipelined and
the rates measure bytes in flight per program) beside the flat grid-stride read the
benchmarks use as the floor, after the same L2 flush, in the benchmarks' shuffled rounds. A measurement script (benchmarks/NOTES.md #77),
not part of the library.
"""

from __future__ import annotations

import argparse

import torch
import triton
import triton.language as tl

from fp8gemm._bench_dense import _time_round_robin, streaming_read


@triton.jit
def _tile_read(x_ptr, out_ptr, n_rows, k_words, SPLIT: tl.constexpr, ROWS: tl.constexpr, KW: tl.constexpr):
    # x is the [N, K] byte matrix viewed as int32 words; KW words per row per step.
    pid = tl.program_id(0)
    rt = pid // SPLIT
    s = pid % SPLIT
    steps = tl.cdiv(k_words, KW)
    st0 = s * steps // SPLIT
    st1 = (s + 1) * steps // SPLIT
    rows = rt * ROWS + tl.arange(0, ROWS)
    acc = tl.zeros([ROWS, KW], dtype=tl.int32)
    for st in range(st0, st1):
        cols = st * KW + tl.arange(0, KW)
        m = (rows[:, None] < n_rows) & (cols[None, :] < k_words)
        acc += tl.load(x_ptr + rows[:, None].to(tl.int64) * k_words + cols[None, :], mask=m, other=0,
                       eviction_policy="evict_first")
    tl.store(out_ptr + pid, tl.sum(tl.sum(acc, axis=1), axis=0))


def tile_read(x: torch.Tensor, split: int, rows: int, kw_bytes: int, stages: int, warps: int):
    n, k = x.shape
    words = x.view(torch.int32)
    grid = triton.cdiv(n, rows) * split
    out = torch.empty(grid, dtype=torch.int32, device=x.device)
    return lambda: _tile_read[(grid,)](words, out, n, k // 4, SPLIT=split, ROWS=rows, KW=kw_bytes // 4,
                                       num_stages=stages, num_warps=warps)


# (label, N rows of weights, K bytes, splits to try)
SHAPES = [
    ("dense 2112x7168", 2112, 7168, (1, 3, 4)),
    ("dense 4096x7168", 4096, 7168, (1, 2)),
    ("dense 7168x2048", 7168, 2048, (1,)),
    ("dense 7168x16384", 7168, 16384, (1,)),
    ("offset 9 groups 4096x7168", 9 * 4096, 7168, (1,)),
]
PATTERNS = [  # (rows, bytes per row per step, stages, warps)
    (64, 128, 4, 4),
    (64, 128, 8, 4),
    (128, 128, 4, 4),
    (64, 256, 4, 4),
    (64, 512, 3, 4),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rep", type=int, default=30)
    args = ap.parse_args()
    for label, n, k, splits in SHAPES:
        x = torch.randint(0, 255, (n, k), dtype=torch.uint8, device="cuda")
        cands = {"flat read": streaming_read(n * k)}
        for s in splits:
            for rows, kw, stages, warps in PATTERNS:
                cands[f"S{s} {rows}r x {kw}B st{stages}"] = tile_read(x, s, rows, kw, stages, warps)
        times = _time_round_robin(cands, args.rounds, args.rep, warmup=3)
        print(f"\n{label}: {n * k / 1e6:.1f} MB")
        for c, r in times.items():
            t = r["median_us"]
            print(f"  {c:28s} {t:8.1f} us  {n * k / t / 1e3:7.0f} GB/s")


if __name__ == "__main__":
    main()
