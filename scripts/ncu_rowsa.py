"""One launch each with canonical and with row-major activation scales (for ncu: warm-up
launches first, then canonical, then row-major), for gemm_nt or a contiguous grouped shape.
Usage:
ncu --clock-control none --kernel-name regex:fp8gemm_1d2d --launch-skip 2 --launch-count 2 \
    python3 scripts/ncu_rowsa.py M N K
    python3 scripts/ncu_rowsa.py contiguous:G,ROWS,N,K   (G groups of ROWS rows each)"""
import sys

import torch

import fp8gemm
from fp8gemm.testing import (contiguous_m_indices, random_fp8_activations, random_fp8_problem, random_fp8_weights,
                             row_major_sa)
from fp8gemm.utils import get_col_major_tma_aligned_tensor

if sys.argv[1].startswith("contiguous:"):
    g, rows, n, k = (int(v) for v in sys.argv[1].split(":")[1].split(","))
    b, sb = random_fp8_weights(g, n, k, seed=1)
    a, sa = random_fp8_activations((g * rows, k), seed=2)
    idx = contiguous_m_indices([rows] * g)
    canonical = get_col_major_tma_aligned_tensor(sa)
    sa_row = row_major_sa(canonical)

    def run(s: torch.Tensor) -> None:
        fp8gemm.m_grouped_gemm_nt_contiguous(a, s, b, sb, idx)
else:
    m, n, k = (int(v) for v in sys.argv[1:4])
    p = random_fp8_problem(m, n, k, "cuda", seed=1)
    canonical = p["sa"]
    sa_row = row_major_sa(p["sa"])

    def run(s: torch.Tensor) -> None:
        fp8gemm.gemm_nt(p["a"], s, p["b"], p["sb"])

for s in (canonical, sa_row, canonical, sa_row):
    run(s)
torch.cuda.synchronize()
if "--time" in sys.argv:
    from fp8gemm.testing import bench_kernel

    for rnd in range(3):
        tc = bench_kernel(lambda: run(canonical), warmup=3, rep=20)["median_us"]
        tr = bench_kernel(lambda: run(sa_row), warmup=3, rep=20)["median_us"]
        print(f"round {rnd}: canonical {tc:.1f} us, row-major {tr:.1f} us, ratio {tr / tc:.3f}", flush=True)
