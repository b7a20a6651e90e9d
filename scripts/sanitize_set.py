"""A representative set of kernel configs of every family on small awkward shapes, for
compute-sanitizer (scripts/sanitize.sh): dense small and large M, multicast on A / B /
off, deferred (block_n <= 128), chunked (block_n > 128) and two-wave (block_m 256) main
loops, fp32 accumulate, non-canonical scales; every grouped layout's configs, plus
garbage device-side group values (out-of-range m_indices, masked_m, offsets) that must
be clamped or skipped, never read as addresses. SANITIZE_ONLY=<text> keeps the configs
whose description contains <text>."""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, "python")
sys.path.insert(0, "scripts")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.testing import random_fp8_activations, random_fp8_weights  # noqa: E402
from gpu_smoke import check, check_grouped  # noqa: E402

DENSE = [
    "block_m=64 block_n=32 stages=12 multicast=none out=bf16",
    "block_m=64 block_n=64 stages=12 multicast=a out=bf16",
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


def garbage_group_values(layout: str) -> None:
    """Device-side group values the host never sees, out of range: no fault, no hang."""
    g, n, k = 3, 256, 256
    b, sb = random_fp8_weights(g, n, k, seed=1)
    if layout == "contiguous":
        a, sa = random_fp8_activations((384, k), seed=2)
        idx = torch.tensor([7] * 128 + [-9] * 128 + [2**31 - 1] * 128, dtype=torch.int32, device="cuda")
        fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
    elif layout == "masked":
        a, sa = random_fp8_activations((g, 40, k), seed=3)
        mm = torch.tensor([-5, 10**9, 39], dtype=torch.int32, device="cuda")
        fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, mm, 8)
    else:
        a, sa = random_fp8_activations((100, k), seed=4)
        for offs in ([5, -3, 10**9, 2], [0, 100, 30, 50], [-(2**31), 2**31 - 1, 0, 100]):
            fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, torch.tensor(offs, dtype=torch.int32, device="cuda"))
        fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, torch.tensor([0, 2**40, -(2**40), 100], device="cuda"))
    torch.cuda.synchronize()


def main() -> int:
    lines = fp8gemm.kernel_grid().splitlines()
    bad = 0
    wanted = [("dense", w) for w in DENSE] + [
        (line.split("layout=")[1].split()[0], line.split(" ", 2)[2]) for line in lines if "layout=dense" not in line
    ]
    only = os.environ.get("SANITIZE_ONLY")  # e.g. "block_m=256": just the configs containing it
    if only:
        wanted = [(layout, want) for layout, want in wanted if only in f"layout={layout} {want}"]
    for layout, want in wanted:
        idx = next((i for i, line in enumerate(lines) if f"layout={layout} {want}" in line), None)
        if idx is None:
            print(f"SKIP not compiled: {layout} {want}")
            continue
        _native.lib().fp8gemm_force_kernel(idx)
        worst = 0.0
        if layout == "dense":
            out_dtype = torch.float32 if "fp32" in want else torch.bfloat16
            for m, n, k in SHAPES:
                worst = max(worst, check(m, n, k, out_dtype), check(m, n, k, out_dtype, sa_layout="row_major"))
                if out_dtype == torch.float32:
                    worst = max(worst, check(m, n, k, out_dtype, accumulate=True))
        else:
            for n, k in ((272, 384), (128, 256)):
                worst = max(worst, check_grouped(layout, n, k))
            garbage_group_values(layout)
        ok = worst < 1e-5
        bad += not ok
        print(f"{'PASS' if ok else 'FAIL'} {worst:.2e} {layout} {want}", flush=True)
    _native.lib().fp8gemm_force_kernel(-1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
