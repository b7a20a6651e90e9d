"""cuBLAS's kernels beside ours under ncu, each call inside an NVTX range "prof" (the
operands are made and every call warmed up outside it):

    ncu --clock-control none --nvtx --nvtx-include "prof/" --set full \
        python3 scripts/ncu_peers.py

What is profiled, in order:
  1. cuBLAS blockwise, 1x128 scales on both sides, fp32 out (the weight-gradient peer's GEMM)
     and fp8gemm.wgrad_gemm_nt_out at (7168, 4096, 8192);
  2. cuBLAS blockwise 1x128 / 128x128 (the dense peer), cuBLAS with per-tensor scales (the
     FP8 ceiling) and fp8gemm.gemm_nt at (4096, 7168, 16384): the heuristic's pick, or with
     --forced every dense bf16 128x128 and 256x128 config of the build instead.
--reps N profiles the whole list N times. Used to read the peers' launch shapes, pipe use
and instruction mix beside ours, and (--forced --reps 2 with --metrics
sm__cycles_active.min,sm__cycles_active.max,sm__cycles_active.avg,sm__cycles_elapsed.max)
how evenly each config keeps the SMs busy: the busiest SM's active cycles against the
elapsed ones (benchmarks/NOTES.md #81).
"""
import argparse
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import blockwise_scaled_mm  # noqa: E402
from fp8gemm._bench_wgrad import _operands, cublas_wgrad  # noqa: E402
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8  # noqa: E402
from contig_dup_check import bf16_configs  # noqa: E402  (scripts/ is sys.path[0])

ap = argparse.ArgumentParser()
ap.add_argument("--forced", action="store_true", help="every dense bf16 128x128 / 256x128 config, forced")
ap.add_argument("--reps", type=int, default=1)
args = ap.parse_args()

calls = []

m, n, k = 7168, 4096, 8192
a, sa, b, sb = _operands(m, n, k, 1)
acc = torch.zeros(m, n, device="cuda")
calls.append(("cublas_wgrad", cublas_wgrad(a, sa, b, sb)))
calls.append(("fp8gemm_wgrad", lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc)))

m2, n2, k2 = 4096, 7168, 16384
a2, sa2 = per_token_cast_to_fp8(torch.randn(m2, k2, device="cuda"))
b2, sb2 = per_block_cast_to_fp8(torch.randn(n2, k2, device="cuda"))
one = torch.ones((), device="cuda")
calls.append(("cublas_blockwise", blockwise_scaled_mm(a2, sa2, b2, sb2)))
calls.append(("cublas_per_tensor",
              lambda: torch._scaled_mm(a2, b2.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)))
if args.forced:
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    for bm in (128, 256):
        for mc, idx in bf16_configs(grid, bm, 128, "dense").items():
            def run(idx=idx):
                lib.fp8gemm_force_kernel(idx)
                try:
                    return fp8gemm.gemm_nt(a2, sa2, b2, sb2)
                finally:
                    lib.fp8gemm_force_kernel(-1)

            calls.append((f"fp8gemm_gemm_nt_{bm}x128_mc{mc}", run))
else:
    calls.append(("fp8gemm_gemm_nt", lambda: fp8gemm.gemm_nt(a2, sa2, b2, sb2)))

for _, fn in calls:
    fn()
    fn()
torch.cuda.synchronize()
for rep in range(args.reps):
    for name, fn in calls:
        torch.cuda.nvtx.range_push("prof")
        fn()
        torch.cuda.nvtx.range_pop()
        torch.cuda.synchronize()
        print("profiled", rep, name, flush=True)
