"""Runs every compiled kernel config on a handful of awkward shapes against the float64
reference (each config forced in turn), then the heuristic on the benchmark's largest
shape. A quick whole-grid check for a device session; the real suite is tests/."""

from __future__ import annotations

import sys
import time

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402


def quant_a(x):
    m, k = x.shape
    kb = (k + 127) // 128
    xp = torch.nn.functional.pad(x, (0, kb * 128 - k)).view(m, kb, 128)
    amax = xp.abs().amax(-1).clamp(min=1e-4)
    s = amax / 448.0
    q = (xp / s[..., None]).view(m, kb * 128)[:, :k].to(torch.float8_e4m3fn)
    return q.contiguous(), s


def quant_b(w):
    n, k = w.shape
    nb, kb = (n + 127) // 128, (k + 127) // 128
    wp = torch.nn.functional.pad(w, (0, kb * 128 - k, 0, nb * 128 - n)).view(nb, 128, kb, 128)
    amax = wp.abs().amax(dim=(1, 3)).clamp(min=1e-4)
    s = amax / 448.0
    q = (wp / s[:, None, :, None]).view(nb * 128, kb * 128)[:n, :k].to(torch.float8_e4m3fn)
    return q.contiguous(), s


def reference(a, sa, b, sb):
    m, k = a.shape
    n = b.shape[0]
    ad = a.double() * sa.double().repeat_interleave(128, 1)[:, :k]
    bd = b.double() * sb.double().repeat_interleave(128, 0)[:n].repeat_interleave(128, 1)[:, :k]
    return ad @ bd.T


def diff(x, y):
    x, y = x.double(), y.double()
    return (1 - 2 * (x * y).sum() / (x * x + y * y).sum()).item()


def check(m, n, k, out_dtype, accumulate=False, sa_layout="canonical"):
    a32 = torch.randn(m, k, device="cuda") * (torch.rand(m, 1, device="cuda") + 0.1)
    b32 = torch.randn(n, k, device="cuda")
    a, sa = quant_a(a32)
    b, sb = quant_b(b32)
    if sa_layout == "canonical":
        sa = fp8gemm.get_col_major_tma_aligned_tensor(sa)
    ref = reference(a, sa, b, sb)
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
    return diff(out, ref)


def main() -> int:
    lib = _native.lib()
    configs = fp8gemm.kernel_grid().strip().splitlines()
    shapes = [(1, 136, 112), (100, 256, 576), (129, 2112, 1024), (300, 512, 7168), (1000, 4096, 256), (64, 16, 7168)]
    failures = 0
    for idx, line in enumerate(configs):
        lib.fp8gemm_force_kernel(idx)
        out_dtype = torch.float32 if "out=fp32" in line else torch.bfloat16
        worst = 0.0
        for (m, n, k) in shapes:
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
        a, sa = quant_a(torch.randn(m, k, device="cuda"))
        b, sb = quant_b(torch.randn(n, k, device="cuda"))
        sa = fp8gemm.get_col_major_tma_aligned_tensor(sa)
        d = diff(fp8gemm.gemm_nt(a, sa, b, sb), reference(a, sa, b, sb))
        for _ in range(3):
            fp8gemm.gemm_nt(a, sa, b, sb)
        torch.cuda.synchronize()
        times = []
        flush = torch.empty(256 * 1024 * 1024, dtype=torch.int8, device="cuda")
        for _ in range(20):
            flush.zero_()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fp8gemm.gemm_nt(a, sa, b, sb)
            e.record()
            torch.cuda.synchronize()
            times.append(s.elapsed_time(e) * 1e3)
        t = sorted(times)[len(times) // 2]
        cfg = fp8gemm.select_config("gemm_nt", m, n, k)
        print(f"{m}x{n}x{k}: diff {d:.2e}  {t:.1f} us  {2*m*n*k/t/1e6:.0f} TFLOPS  "
              f"bm{cfg['block_m']} bn{cfg['block_n']} mc{cfg['multicast']} grid{cfg['grid']}", flush=True)
    print(f"{failures} of {len(configs)} configs failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
