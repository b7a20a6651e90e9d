"""Weight-gradient shapes for ncu: one accumulating wgrad_gemm_nt_out call per shape after a
warm-up, and with --with-1d2d the fp32-accumulate and bf16 gemm_nt of the same shape.

    ncu --clock-control none -k regex:"wgrad|fp8_gemm" ... python3 scripts/ncu_wgrad.py [--with-1d2d] M,N,K ...
"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm._bench_wgrad import _operands  # noqa: E402
from fp8gemm.testing import random_fp8_problem  # noqa: E402

with_1d2d = "--with-1d2d" in sys.argv
for spec in (s for s in sys.argv[1:] if not s.startswith("--")):
    m, n, k = (int(x) for x in spec.split(","))
    a, sa, b, sb = _operands(m, n, k, 1)
    acc = torch.zeros(m, n, device="cuda")
    fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc)
    torch.cuda.synchronize()
    print(spec, "wgrad", fp8gemm.select_config("wgrad_gemm_nt", m, n, k), flush=True)
    if with_1d2d:
        p = random_fp8_problem(m, n, k, "cuda", seed=1)
        out = torch.zeros(m, n, device="cuda")
        fp8gemm.gemm_nt_out(p["a"], p["sa"], p["b"], p["sb"], out, accumulate=True)
        fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"])
        torch.cuda.synchronize()
