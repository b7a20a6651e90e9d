"""Every compiled weight-gradient config (dense and k-grouped), forced in turn, on small
shapes with partial tiles, checked against the float64 reference: the set for
compute-sanitizer (`compute-sanitizer --tool racecheck python3 scripts/sanitize_wgrad.py`).
Exits 1 when a result is wrong."""

from __future__ import annotations

import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_wgrad import _operands  # noqa: E402
from fp8gemm.testing import (  # noqa: E402
    calc_diff,
    random_k_grouped_wgrad_problem,
    reference_gemm_nt,
    reference_k_grouped_wgrad,
)


def main() -> int:
    lib = _native.lib()
    wgrad = list(enumerate(fp8gemm.wgrad_kernel_grid().splitlines()))
    m, n, k = 200, 264, 640
    a, sa, b, sb = _operands(m, n, k, seed=1)
    ref = reference_gemm_nt(a, sa, b, sb)
    ks = [384, 0, 272]
    ka, ksa, kb_, ksb = random_k_grouped_wgrad_problem(m, n, ks, seed=10)
    kref = reference_k_grouped_wgrad(ka, ksa, kb_, ksb, ks)
    bad = 0
    for i, line in wgrad:
        lib.fp8gemm_force_wgrad_kernel(i)
        try:
            if "layout=dense" not in line:
                out = torch.full((len(ks), m, n), 0.5, device="cuda")
                fp8gemm.k_grouped_wgrad_gemm_nt_out(ka, ksa, kb_, ksb, ks, out)
                diff = calc_diff(out - 0.5, kref)
            else:
                out = torch.full((m, n), 0.5, device="cuda")
                fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
                diff = calc_diff(out - 0.5, ref)
            torch.cuda.synchronize()
        finally:
            lib.fp8gemm_force_wgrad_kernel(-1)
        ok = diff < 1e-5
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} diff={diff:.2e} {line}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
