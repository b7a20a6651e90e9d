"""Times the dense 1D1D 128x128 config (forced) of whichever build is on PYTHONPATH, and (with
the label "real") the 1D2D fp32-accumulate and bf16 kernels on the same shapes: the tool of
benchmarks/NOTES.md #31, whose experiment builds patched the promotion or dropped the
epilogue (wrong results, timing only). Usage: PYTHONPATH=python python scripts/wgrad_experiment.py real"""

import sys

import torch

import fp8gemm
from fp8gemm import _native
from fp8gemm._bench_wgrad import _operands
from fp8gemm.testing import bench_kernel, random_fp8_problem

label = sys.argv[1] if len(sys.argv) > 1 else "?"
lines = fp8gemm.wgrad_kernel_grid().splitlines()
idx = [i for i, l in enumerate(lines) if "layout=dense block_m=128 block_n=128" in l and "multicast=none" in l][0]
_native.lib().fp8gemm_force_wgrad_kernel(idx)
for m, n, k in ((7168, 4096, 4096), (2048, 7168, 8192)):
    a, sa, b, sb = _operands(m, n, k, 1)
    acc = torch.zeros(m, n, device="cuda")
    t = bench_kernel(lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc), warmup=5, rep=30)["median_us"]
    print(f"{label:>10} 1d1d {m}x{n}x{k}: {t:7.1f} us {2 * m * n * k / t / 1e6:5.0f} TFLOPS", flush=True)
    if label == "real":
        p = random_fp8_problem(m, n, k, "cuda", seed=1)
        out = torch.zeros(m, n, device="cuda")
        t = bench_kernel(lambda: fp8gemm.gemm_nt_out(p["a"], p["sa"], p["b"], p["sb"], out, accumulate=True),
                         warmup=5, rep=30)["median_us"]
        print(f"{label:>10} 1d2d f32 acc {m}x{n}x{k}: {t:7.1f} us {2 * m * n * k / t / 1e6:5.0f} TFLOPS "
              f"{fp8gemm.select_config('gemm_nt', m, n, k, out_dtype=torch.float32)}", flush=True)
        t = bench_kernel(lambda: fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"]), warmup=5, rep=30)["median_us"]
        print(f"{label:>10} 1d2d bf16 {m}x{n}x{k}: {t:7.1f} us {2 * m * n * k / t / 1e6:5.0f} TFLOPS", flush=True)
