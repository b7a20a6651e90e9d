"""A representative set of kernel configs on small awkward shapes, for compute-sanitizer
(scripts/sanitize.sh): small and large M, multicast on A / B / off, deferred (block_n <=
128) and chunked (block_n > 128) main loops, fp32 accumulate, non-canonical scales."""

from __future__ import annotations

import sys

import torch

sys.path.insert(0, "python")
sys.path.insert(0, "scripts")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from gpu_smoke import check  # noqa: E402

WANTED = [
    "block_m=64 block_n=32 stages=8 multicast=none out=bf16",
    "block_m=64 block_n=64 stages=8 multicast=a out=bf16",
    "block_m=128 block_n=128 stages=5 multicast=none out=bf16",
    "block_m=128 block_n=128 stages=5 multicast=a out=bf16",
    "block_m=128 block_n=128 stages=5 multicast=b out=bf16",
    "block_m=128 block_n=192 stages=4 multicast=none out=bf16",
    "block_m=128 block_n=160 stages=5 multicast=b out=bf16",
    "block_m=128 block_n=128 stages=4 multicast=none out=fp32",
    "block_m=256 block_n=128 stages=3 multicast=none out=bf16",
    "block_m=256 block_n=128 stages=3 multicast=a out=bf16",
]
SHAPES = [(1, 136, 112), (100, 256, 576), (300, 512, 1024), (600, 256, 256)]


def main() -> int:
    lines = fp8gemm.kernel_grid().splitlines()
    bad = 0
    for want in WANTED:
        idx = next((i for i, l in enumerate(lines) if want in l), None)
        if idx is None:
            print(f"SKIP not compiled: {want}")
            continue
        _native.lib().fp8gemm_force_kernel(idx)
        out_dtype = torch.float32 if "fp32" in want else torch.bfloat16
        worst = 0.0
        for m, n, k in SHAPES:
            worst = max(worst, check(m, n, k, out_dtype), check(m, n, k, out_dtype, sa_layout="row_major"))
            if out_dtype == torch.float32:
                worst = max(worst, check(m, n, k, out_dtype, accumulate=True))
        ok = worst < 1e-5
        bad += not ok
        print(f"{'PASS' if ok else 'FAIL'} {worst:.2e} {want}", flush=True)
    _native.lib().fp8gemm_force_kernel(-1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
