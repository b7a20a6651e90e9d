"""A few launches of the row-major-scale 1D2D kernels (one config per main-loop shape:
deferred 128x128, two-chunk 128x160, 256-row waves, masked 64-row; both box modes), each forced, for
compute-sanitizer (racecheck / memcheck). Prints the worst calc_diff against float64."""
import itertools

import torch

import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import (calc_diff, random_fp8_activations, random_fp8_problem, random_fp8_weights,
                             reference_gemm_nt, row_major_sa)

lines = fp8gemm.kernel_grid().splitlines()


def index(*parts: str) -> int:
    return next(i for i, line in enumerate(lines) if all(p in line for p in parts))


worst = 0.0
for (bm, bn, mc), k in itertools.product(((128, 128, "none"), (128, 160, "a"), (256, 128, "a")), (4240, 512)):
    # K = 4240: boxes of columns (rows of 36 floats, longer than any box); K = 512: whole rows
    i = index("layout=dense", f"block_m={bm} ", f"block_n={bn} ", f"multicast={mc} ", "out=bf16", "sa=row")
    p = random_fp8_problem(3 * bm + 48, 6 * bn - 8, k, "cuda", seed=i)
    _native.lib().fp8gemm_force_kernel(i)
    out = fp8gemm.gemm_nt(p["a"], row_major_sa(p["sa"]), p["b"], p["sb"])
    _native.lib().fp8gemm_force_kernel(-1)
    worst = max(worst, calc_diff(out, reference_gemm_nt(p["a"], p["sa"], p["b"], p["sb"])))
i = index("layout=masked", "block_m=64 ", "block_n=64 ", "sa=row")
a, sa = random_fp8_activations((3, 150, 4240), seed=5)
b, sb = random_fp8_weights(3, 376, 4240, seed=6)
masked_m = torch.tensor([150, 0, 77], dtype=torch.int32, device="cuda")
_native.lib().fp8gemm_force_kernel(i)
out = fp8gemm.m_grouped_gemm_nt_masked(a, row_major_sa(sa), b, sb, masked_m, 64)
_native.lib().fp8gemm_force_kernel(-1)
for g, c in enumerate((150, 0, 77)):
    if c:
        worst = max(worst, calc_diff(out[g, :c], reference_gemm_nt(a[g, :c], sa[g, :c], b[g], sb[g])))
torch.cuda.synchronize()
print(f"worst calc_diff {worst:.2e}")
