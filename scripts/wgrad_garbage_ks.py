"""A small k-grouped weight-gradient call with garbage ks (negative, unaligned, huge), for
compute-sanitizer: `compute-sanitizer --tool memcheck python scripts/wgrad_garbage_ks.py`."""

import torch

import fp8gemm
from fp8gemm.quant import k_grouped_cast_to_fp8
from fp8gemm.testing import random_wgrad_operand

m, n, ks = 136, 264, [512, 16, 1008]
a, sa = k_grouped_cast_to_fp8([random_wgrad_operand(m, k, seed=i) for i, k in enumerate(ks)])
b, sb = k_grouped_cast_to_fp8([random_wgrad_operand(n, k, seed=9 + i) for i, k in enumerate(ks)])
for bad in ([-4096, 2**31 - 1, 1000], [2**30, 2**30, 2**30], [-1, -1, -1], [7, 65536, 33], ks):
    out = torch.zeros(len(ks), m, n, device="cuda")
    fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, torch.tensor(bad, dtype=torch.int32, device="cuda"), out)
    fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, torch.tensor(bad, dtype=torch.int32, device="cuda"))
    torch.cuda.synchronize()
    print("ks", bad, "ok, finite:", bool(torch.isfinite(out).all()))
