"""Decode shapes for ncu: each shape once with swap-AB on, once off, and a streaming read of
the weight bytes, after one warm-up call each.

    ncu --clock-control none -k regex:"fp8_gemm|reduce" ... python3 scripts/ncu_swapab.py M,N,K ...
"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm._bench_dense import streaming_read  # noqa: E402
from fp8gemm.testing import random_fp8_problem  # noqa: E402

for spec in sys.argv[1:]:
    m, n, k = (int(x) for x in spec.split(","))
    p = random_fp8_problem(m, n, k, "cuda", seed=1)
    args = (p["a"], p["sa"], p["b"], p["sb"])
    for on in (True, False):
        fp8gemm.set_swap_ab(on)
        fp8gemm.gemm_nt(*args)
        torch.cuda.synchronize()
    fp8gemm.set_swap_ab(True)
    read = streaming_read(n * k)
    read()
    torch.cuda.synchronize()
