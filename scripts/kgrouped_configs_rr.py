"""Every 128-row k-grouped weight-gradient config, forced, round-robin (5 rounds, L2 flushed)
on the benchmark's k-grouped shapes: the check behind the k-grouped pick (NOTES #64).

  PYTHONPATH=python python scripts/kgrouped_configs_rr.py
"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native
from fp8gemm._bench_dense import _time_round_robin
from fp8gemm.testing import random_k_grouped_wgrad_problem
lib = _native.lib()
lines = fp8gemm.wgrad_kernel_grid().splitlines()
cand_idx = [i for i, l in enumerate(lines) if "k_grouped" in l and "block_m=128" in l]
for g, kg, m, n in [(4, 4096, 7168, 4096), (8, 4096, 2048, 7168), (4, 4096, 2048, 7168), (4, 8192, 7168, 4096), (8, 4096, 7168, 4096)]:
    a, sa, b, sb = random_k_grouped_wgrad_problem(m, n, [kg] * g)
    ks = torch.full((g,), kg, dtype=torch.int32, device="cuda")
    acc = torch.zeros(g, m, n, device="cuda")
    def forced(i):
        def run():
            lib.fp8gemm_force_wgrad_kernel(i)
            fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, acc)
        return run
    cands = {f"cfg{i}": forced(i) for i in cand_idx}
    res = _time_round_robin(cands, 5, 10, 3)
    lib.fp8gemm_force_wgrad_kernel(-1)
    best = min(r["median_us"] for r in res.values())
    print(f"k_grouped G={g} K={kg} {m}x{n}")
    for name, r in sorted(res.items(), key=lambda kv: kv[1]["median_us"]):
        print(f"   {r['median_us']:8.1f} x{r['median_us']/best:.3f} {lines[int(name[3:])]}", flush=True)
