"""Every compiled weight-gradient config (forced) timed on a few shapes, for calibrating
csrc/wgrad_heuristics.cpp. Usage: PYTHONPATH=python python scripts/wgrad_sweep.py"""

from __future__ import annotations

import sys

import torch

import fp8gemm
from fp8gemm import _native
from fp8gemm._bench_wgrad import _operands
from fp8gemm.quant import k_grouped_cast_to_fp8
from fp8gemm.testing import bench_kernel, random_wgrad_operand

DENSE = [(7168, 4096, 4096), (7168, 2112, 4096), (1536, 24576, 4096), (512, 32768, 4096), (2048, 7168, 8192),
         (7168, 4096, 8192), (16384, 7168, 8192), (7168, 2112, 8192)]
KGROUPED = [(4, 4096, 7168, 4096), (8, 4096, 2048, 7168), (4, 4096, 2048, 7168)]
if len(sys.argv) > 1 and sys.argv[1] == "--quick":  # the K = 8192 shapes only
    DENSE = [s for s in DENSE if s[2] == 8192]


def main() -> None:
    lines = fp8gemm.wgrad_kernel_grid().splitlines()
    lib = _native.lib()
    for m, n, k in DENSE:
        a, sa, b, sb = _operands(m, n, k, 1)
        acc = torch.zeros(m, n, device="cuda")
        pick = fp8gemm.select_config("wgrad_gemm_nt", m, n, k)
        print(f"dense {m}x{n}x{k} heuristic {pick['block_m']}x{pick['block_n']} mc={pick['multicast']}", flush=True)
        for i, line in enumerate(lines):
            if "layout=dense" not in line:
                continue
            lib.fp8gemm_force_wgrad_kernel(i)
            t = bench_kernel(lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc), warmup=3, rep=10)["median_us"]
            print(f"  {t:8.1f} us {2 * m * n * k / t / 1e6:6.0f} TFLOPS  {line}", flush=True)
        lib.fp8gemm_force_wgrad_kernel(-1)
    for g, kg, m, n in KGROUPED:
        a, sa = k_grouped_cast_to_fp8([random_wgrad_operand(m, kg, seed=i) for i in range(g)])
        b, sb = k_grouped_cast_to_fp8([random_wgrad_operand(n, kg, seed=100 + i) for i in range(g)])
        ks = torch.full((g,), kg, dtype=torch.int32, device="cuda")
        acc = torch.zeros(g, m, n, device="cuda")
        pick = fp8gemm.select_config("k_grouped_wgrad_gemm_nt", m, n, kg, num_groups=g)
        print(f"k_grouped G={g} K={kg} {m}x{n} heuristic {pick['block_m']}x{pick['block_n']} mc={pick['multicast']}")
        for i, line in enumerate(lines):
            if "layout=k_grouped" not in line:
                continue
            lib.fp8gemm_force_wgrad_kernel(i)
            t = bench_kernel(lambda: fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, acc), warmup=3, rep=10)
            t = t["median_us"]
            print(f"  {t:8.1f} us {2 * m * n * kg * g / t / 1e6:6.0f} TFLOPS  {line}", flush=True)
        lib.fp8gemm_force_wgrad_kernel(-1)


if __name__ == "__main__":
    sys.exit(main())
