"""Where the host time of one call goes: fp8gemm's ops against torch's own calls of the same
kind, each timed while a sleep kernel keeps the GPU busy (so only the host path is timed).

    PYTHONPATH=python python3 scripts/host_cost_breakdown.py
"""

from __future__ import annotations

import random
import statistics
import sys

import torch

import fp8gemm
from fp8gemm.testing import host_cost_us, random_fp8_problem


def main() -> int:
    m, n, k = (int(x) for x in (sys.argv[1:4] if len(sys.argv) >= 4 else (64, 2112, 7168)))
    p = random_fp8_problem(m, n, k, "cuda", seed=1)
    a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
    out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
    sa_row = sa.contiguous()  # row-major [M, Kb]: read in place by the swap-AB kernels
    x = torch.randn(m, 64, device="cuda", dtype=torch.bfloat16)
    w = torch.randn(64, 64, device="cuda", dtype=torch.bfloat16)
    op = torch.ops.fp8gemm.gemm_nt.default
    op_out = torch.ops.fp8gemm.gemm_nt_out.default
    cases = {
        "torch.empty([m, n])": lambda: torch.empty(m, n, dtype=torch.bfloat16, device="cuda"),
        "torch.ops.aten.empty.memory_format": lambda: torch.ops.aten.empty.memory_format(
            [m, n], dtype=torch.bfloat16, device=a.device),
        "torch.mm (bf16, tiny)": lambda: torch.mm(x, w),
        "fp8gemm.gemm_nt": lambda: fp8gemm.gemm_nt(a, sa, b, sb),
        "torch.ops.fp8gemm.gemm_nt.default": lambda: op(a, sa, b, sb, torch.bfloat16),
        "torch.ops.fp8gemm.gemm_nt_out.default": lambda: op_out(a, sa, b, sb, out, False),
        "fp8gemm.gemm_nt (row-major sa)": lambda: fp8gemm.gemm_nt(a, sa_row, b, sb),
        "fp8gemm.gemm_nt (no swap-AB)": None,
    }
    # Round by round, every case once per round (in a shuffled order), so that a host whose
    # speed drifts over the run moves every case alike. Timed one case after another, one
    # lease read fp8gemm.gemm_nt at 17.7 us and the op it calls in one line at 12.9
    # (benchmarks/NOTES.md #58).
    vals: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(7):
        order = list(cases)
        random.Random(r).shuffle(order)
        for name in order:
            fn = cases[name]
            if fn is None:
                fp8gemm.set_swap_ab(False)
                fn = cases["fp8gemm.gemm_nt"]
            try:
                vals[name].append(host_cost_us(fn, n=200))
            finally:
                fp8gemm.set_swap_ab(True)
    rows = [(name, statistics.median(v), min(v)) for name, v in vals.items()]
    print(f"host cost per call, (m, n, k) = {(m, n, k)}, GPU kept busy (median / min of 7 x 200 calls, "
          "the cases interleaved round by round)")
    for name, med, lo in rows:
        print(f"  {name:40s} {med:7.2f} us  (min {lo:6.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
