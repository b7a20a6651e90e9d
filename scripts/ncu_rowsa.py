"""One launch each of gemm_nt with canonical and with row-major activation scales (for
ncu: warm-up launches first, then canonical, then row-major). Usage:
ncu --clock-control none --kernel-name regex:fp8gemm_1d2d --launch-skip 2 --launch-count 2 \
    python3 scripts/ncu_rowsa.py M N K"""
import sys

import torch

import fp8gemm
from fp8gemm.testing import random_fp8_problem, row_major_sa

m, n, k = (int(v) for v in sys.argv[1:4])
p = random_fp8_problem(m, n, k, "cuda", seed=1)
sa_row = row_major_sa(p["sa"])
for sa in (p["sa"], sa_row, p["sa"], sa_row):
    fp8gemm.gemm_nt(p["a"], sa, p["b"], p["sb"])
torch.cuda.synchronize()
