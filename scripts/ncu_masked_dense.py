"""The dense and the masked 1D2D kernel on the same problem (one group of `rows` rows), each
with a forced config, for ncu side by side:

  ncu -k regex:fp8gemm_1d2d --launch-skip 2 ... python scripts/ncu_masked_dense.py ROWS N K DENSE_IDX MASKED_IDX

Each op is called 3 times (2 warm-ups, then the profiled one; dense first)."""
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.testing import random_fp8_activations, random_fp8_weights  # noqa: E402

rows, n, k, dense_idx, masked_idx = (int(x) for x in sys.argv[1:6])
mmax = -(-rows // 16) * 16
a, sa = random_fp8_activations((1, mmax, k), seed=0)
b, sb = random_fp8_weights(1, n, k, seed=1)
a2, sa2 = a[0, :rows], fp8gemm.get_col_major_tma_aligned_tensor(sa[0, :rows].contiguous())
masked_m = torch.tensor([rows], dtype=torch.int32, device="cuda")
lib = _native.lib()
lib.fp8gemm_force_kernel(dense_idx)
for _ in range(3):
    fp8gemm.gemm_nt(a2, sa2, b[0], sb[0])
torch.cuda.synchronize()
lib.fp8gemm_force_kernel(masked_idx)
for _ in range(3):
    fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, rows)
torch.cuda.synchronize()
lib.fp8gemm_force_kernel(-1)
print("done")
