"""One gemm_nt call (after a warm-up) for profiling: python scripts/ncu_one.py M N K [config_index]"""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8  # noqa: E402

m, n, k = (int(x) for x in sys.argv[1:4])
if len(sys.argv) > 4:
    _native.lib().fp8gemm_force_kernel(int(sys.argv[4]))
a, sa = per_token_cast_to_fp8(torch.randn(m, k, device="cuda"))
b, sb = per_block_cast_to_fp8(torch.randn(n, k, device="cuda"))
for _ in range(3):
    out = fp8gemm.gemm_nt(a, sa, b, sb)
torch.cuda.synchronize()
