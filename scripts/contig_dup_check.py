"""Contiguous layout: the heuristic's pick, the 128x128 and the 256x128 configs (no multicast),
each timed twice under its own name, round-robin over 10 shuffled rounds with seeds other
than _time_round_robin's, so a position effect shows up as duplicates that disagree
(NOTES #80). On a Hopper machine with the library built:

    PYTHONPATH=python python3 scripts/contig_dup_check.py
"""
import random, statistics, sys
import torch
sys.path.insert(0, "python")
import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import bench_kernel, contiguous_m_indices, random_fp8_activations, random_fp8_weights
lib = _native.lib()
grid = fp8gemm.kernel_grid().strip().splitlines()
def find(bm, bn, mc):
    for i, l in enumerate(grid):
        if "layout=contiguous" in l and "out=bf16" in l and "sa=row" not in l and f"block_m={bm} " in l and f"block_n={bn} " in l and f"multicast={mc} " in l:
            return i
c128, c256 = find(128, 128, "none"), find(256, 128, "none")
print("cfg", c128, grid[c128]); print("cfg", c256, grid[c256])
for g, r, n, k in [(4, 8192, 4096, 7168), (8, 4096, 4096, 7168), (4, 8192, 7168, 2048), (32, 256, 4096, 7168)]:
    idx = contiguous_m_indices([r] * g)
    a, sa = random_fp8_activations((idx.numel(), k), seed=0)
    b, sb = random_fp8_weights(g, n, k, seed=1)
    def forced(i):
        def run():
            lib.fp8gemm_force_kernel(i)
            return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
        return run
    cands = {"heur_a": forced(-1), "c128_a": forced(c128), "c256_a": forced(c256), "heur_b": forced(-1), "c128_b": forced(c128), "c256_b": forced(c256)}
    samples = {n_: [] for n_ in cands}
    for rr in range(10):
        order = list(cands); random.Random(1000 + rr).shuffle(order)
        for nm in order:
            samples[nm] += bench_kernel(cands[nm], warmup=2 if rr == 0 else 1, rep=10)["times_us"]
    lib.fp8gemm_force_kernel(-1)
    flops = 2.0 * g * r * n * k
    print((g, r, n, k), "  ".join(f"{nm} {statistics.median(ts):.1f}us/{flops/statistics.median(ts)/1e6:.0f}TF" for nm, ts in samples.items()), flush=True)
