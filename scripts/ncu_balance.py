"""How evenly the SMs are kept busy: the heavy dense shape (4096, 7168, 16384) on each
128-row config with 128 columns (forced) and the 256x128 one, cuBLAS per-tensor and
blockwise beside them, and the weight gradient at (7168, 4096, 8192) beside cuBLAS's 1x128 x
1x128 GEMM; each call twice inside an NVTX range "prof" (benchmarks/NOTES.md #81):

    ncu --clock-control none --nvtx --nvtx-include "prof/" --metrics \
        sm__cycles_active.min,sm__cycles_active.max,sm__cycles_active.avg,sm__cycles_elapsed.max,gpu__time_duration.sum \
        python3 scripts/ncu_balance.py

sm__cycles_active.max against sm__cycles_elapsed.max says whether the last SM to finish
was busy to the end (imbalance across SMs) or the grid left all of them idle for a while
(launch, drain); min against max is the spread of SM busy time.
"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import blockwise_scaled_mm  # noqa: E402
from fp8gemm._bench_wgrad import _operands, cublas_wgrad  # noqa: E402
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8  # noqa: E402

lib = _native.lib()
grid = fp8gemm.kernel_grid().strip().splitlines()


def dense_configs(block_m: int) -> list[tuple[str, int]]:
    """(label, index) of the dense bf16 canonical-scale block_m x 128 configs."""
    out = []
    for i, line in enumerate(grid):
        if ("layout=dense " in line and "out=bf16" in line and "sa=row" not in line
                and f"block_m={block_m} " in line and "block_n=128 " in line):
            mc = line.split("multicast=")[1].split()[0]
            out.append((f"{block_m}x128_mc{mc}", i))
    return out


calls = []
m2, n2, k2 = 4096, 7168, 16384
a2, sa2 = per_token_cast_to_fp8(torch.randn(m2, k2, device="cuda"))
b2, sb2 = per_block_cast_to_fp8(torch.randn(n2, k2, device="cuda"))
one = torch.ones((), device="cuda")
calls.append(("cublas_per_tensor",
              lambda: torch._scaled_mm(a2, b2.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)))
calls.append(("cublas_blockwise", blockwise_scaled_mm(a2, sa2, b2, sb2)))
for label, idx in dense_configs(128) + dense_configs(256):
    def run(idx=idx):
        lib.fp8gemm_force_kernel(idx)
        try:
            return fp8gemm.gemm_nt(a2, sa2, b2, sb2)
        finally:
            lib.fp8gemm_force_kernel(-1)
    calls.append((label, run))

m, n, k = 7168, 4096, 8192
a, sa, b, sb = _operands(m, n, k, 1)
acc = torch.zeros(m, n, device="cuda")
calls.append(("cublas_wgrad", cublas_wgrad(a, sa, b, sb)))
calls.append(("fp8gemm_wgrad", lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc)))

for _, fn in calls:
    fn()
    fn()
torch.cuda.synchronize()
for rep in range(2):
    for name, fn in calls:
        torch.cuda.nvtx.range_push("prof")
        fn()
        torch.cuda.nvtx.range_pop()
        torch.cuda.synchronize()
        print("profiled", rep, name, flush=True)
