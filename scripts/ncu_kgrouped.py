"""The k-grouped weight gradient beside the dense op, for ncu: one accumulating call each
after a warm-up: k-grouped G x K_g, dense K_g and dense G * K_g (same M, N).

    ncu --clock-control none -k regex:wgrad ... python3 scripts/ncu_kgrouped.py G K_G M N
"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm._bench_wgrad import _operands  # noqa: E402
from fp8gemm.testing import random_k_grouped_wgrad_problem  # noqa: E402

g, kg, m, n = (int(x) for x in sys.argv[1:5])
a, sa, b, sb = random_k_grouped_wgrad_problem(m, n, [kg] * g)
ks = torch.full((g,), kg, dtype=torch.int32, device="cuda")
acc = torch.zeros(g, m, n, device="cuda")
calls = [("k_grouped", lambda: fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, acc))]
for k in (kg, g * kg):
    da, dsa, db, dsb = _operands(m, n, k, seed=0)
    dacc = torch.zeros(m, n, device="cuda")
    calls.append((f"dense K={k}", lambda da=da, dsa=dsa, db=db, dsb=dsb, dacc=dacc:
                  fp8gemm.wgrad_gemm_nt_out(da, dsa, db, dsb, dacc)))
for name, fn in calls:
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    print(name, flush=True)
