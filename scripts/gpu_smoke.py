"""Runs every compiled kernel config on a handful of awkward shapes against the float64
reference (each config forced in turn), then the heuristic on the benchmark's largest
shape. A quick whole-grid check for a device session; the real suite is tests/."""

from __future__ import annotations

import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8  # noqa: E402
from fp8gemm.testing import (  # noqa: E402
    bench_kernel,
    calc_diff,
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_weights,
    reference_gemm_nt,
)


def check(m, n, k, out_dtype, accumulate=False, sa_layout="canonical"):
    a32 = torch.randn(m, k, device="cuda") * (torch.rand(m, 1, device="cuda") + 0.1)
    b32 = torch.randn(n, k, device="cuda")
    a, sa = per_token_cast_to_fp8(a32, layout=sa_layout)
    b, sb = per_block_cast_to_fp8(b32)
    ref = reference_gemm_nt(a, sa, b, sb)
    out = torch.full((m, n), float("nan"), device="cuda", dtype=out_dtype)
    if accumulate:
        out = torch.randn(m, n, device="cuda")
        ref = ref + out.double()
    fp8gemm.gemm_nt_out(a, sa, b, sb, out, accumulate=accumulate)
    torch.cuda.synchronize()
    if m * n == 0:
        return 0.0
    if torch.isnan(out).any():
        return float("inf")
    return calc_diff(out, ref)


def check_grouped(layout: str, n: int, k: int) -> float:
    """Worst per-group diff of one small problem of `layout` with awkward group sizes;
    inf when a row that must be written was not (rows start as NaN)."""
    g = 4
    b, sb = random_fp8_weights(g, n, k)
    nan = float("nan")
    groups = []  # (rows of out, rows of a) per group
    if layout == "masked":
        mmax, counts = 70, [70, 1, 0, 33]
        a, sa = random_fp8_activations((g, mmax, k))
        out = torch.full((g, mmax, n), nan, dtype=torch.bfloat16, device="cuda")
        fp8gemm.m_grouped_gemm_nt_masked_out(a, sa, b, sb, torch.tensor(counts, dtype=torch.int32, device="cuda"), out)
        groups = [(out[i, :c], a[i, :c], sa[i, :c]) for i, c in enumerate(counts)]
    else:
        sizes = [1, 300, 0, 128] if layout == "contiguous" else [0, 1, 129, 64]
        if layout == "contiguous":
            idx = contiguous_m_indices(sizes)
            starts = [0, 128, 512, 512]
        else:
            starts = [sum(sizes[:i]) for i in range(g)]
        m = idx.numel() if layout == "contiguous" else sum(sizes)
        a, sa = random_fp8_activations((m, k))
        out = torch.full((m, n), nan, dtype=torch.bfloat16, device="cuda")
        if layout == "contiguous":
            fp8gemm.m_grouped_gemm_nt_contiguous_out(a, sa, b, sb, idx, out)
        else:
            offsets = torch.tensor([0, *[sum(sizes[: i + 1]) for i in range(g)]], dtype=torch.int32, device="cuda")
            fp8gemm.m_grouped_gemm_nt_offset_out(a, sa, b, sb, offsets, out)
        groups = [(out[s : s + c], a[s : s + c], sa[s : s + c]) for s, c in zip(starts, sizes)]
    torch.cuda.synchronize()
    worst = 0.0
    for i, (o, ai, si) in enumerate(groups):
        if o.numel() == 0:
            continue
        if torch.isnan(o).any():
            return float("inf")
        worst = max(worst, calc_diff(o, reference_gemm_nt(ai, si, b[i], sb[i])))
    return worst


def main() -> int:
    lib = _native.lib()
    configs = fp8gemm.kernel_grid().strip().splitlines()
    shapes = [(1, 136, 112), (100, 256, 576), (129, 2112, 1024), (300, 512, 7168), (1000, 4096, 256), (64, 16, 7168)]
    failures = 0
    for idx, line in enumerate(configs):
        lib.fp8gemm_force_kernel(idx)
        out_dtype = torch.float32 if "out=fp32" in line else torch.bfloat16
        worst = 0.0
        layout = line.split("layout=")[1].split()[0]
        if layout != "dense":
            for n, k in ((272, 384), (2112, 1024), (128, 7168)):
                worst = max(worst, check_grouped(layout, n, k))
            shapes_here = []
        else:
            shapes_here = shapes
        for (m, n, k) in shapes_here:
            for layout in ("canonical", "row_major"):
                d = check(m, n, k, out_dtype, sa_layout=layout)
                worst = max(worst, d)
            if out_dtype == torch.float32:
                worst = max(worst, check(m, n, k, out_dtype, accumulate=True))
        ok = worst < 1e-5
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} worst diff {worst:.2e}  {line}", flush=True)
    lib.fp8gemm_force_kernel(-1)

    for (m, n, k) in [(4096, 7168, 16384), (4096, 4096, 7168), (64, 2112, 7168), (128, 7168, 2048)]:
        a, sa = per_token_cast_to_fp8(torch.randn(m, k, device="cuda"))
        b, sb = per_block_cast_to_fp8(torch.randn(n, k, device="cuda"))
        d = calc_diff(fp8gemm.gemm_nt(a, sa, b, sb), reference_gemm_nt(a, sa, b, sb))
        t = bench_kernel(lambda: fp8gemm.gemm_nt(a, sa, b, sb), warmup=3, rep=20)["median_us"]
        cfg = fp8gemm.select_config("gemm_nt", m, n, k)
        print(f"{m}x{n}x{k}: diff {d:.2e}  {t:.1f} us  {2*m*n*k/t/1e6:.0f} TFLOPS  "
              f"bm{cfg['block_m']} bn{cfg['block_n']} mc{cfg['multicast']} grid{cfg['grid']}", flush=True)
    print(f"{failures} of {len(configs)} configs failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
