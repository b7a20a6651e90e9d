"""One gemm_nt call (after a warm-up) for profiling: python scripts/ncu_one.py M N K [config_index]"""
import sys

import torch

sys.path.insert(0, "python")
sys.path.insert(0, "scripts")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from gpu_smoke import quant_a, quant_b  # noqa: E402

m, n, k = (int(x) for x in sys.argv[1:4])
if len(sys.argv) > 4:
    _native.lib().fp8gemm_force_kernel(int(sys.argv[4]))
a, sa = quant_a(torch.randn(m, k, device="cuda"))
b, sb = quant_b(torch.randn(n, k, device="cuda"))
sa = fp8gemm.get_col_major_tma_aligned_tensor(sa)
for _ in range(3):
    out = fp8gemm.gemm_nt(a, sa, b, sb)
torch.cuda.synchronize()
