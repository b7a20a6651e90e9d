"""Activation-scale layouts at decode sizes (issue 4): gemm_nt with the canonical layout,
with row-major [M, Kb] scales read in place, and with row-major scales whose rows cannot be
read in place (so the op copies them into the canonical layout first: what every row-major
call cost before the in-place configs). Round-robin, median of `--rounds` rounds, each a
bench_kernel median with the L2 flushed.

    PYTHONPATH=python python3 scripts/bench_sa_layout.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

import fp8gemm
from fp8gemm.testing import bench_kernel, random_fp8_problem, row_major_sa

MS = (1, 4, 8, 16, 32, 64)
NKS = ((2112, 7168), (4096, 7168), (7168, 2048), (24576, 1536), (7168, 16384))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for n, k in NKS:
        for m in MS:
            p = random_fp8_problem(m, n, k, "cuda", seed=m + n + k)
            kb = p["sa"].shape[1]
            aligned = row_major_sa(p["sa"])
            odd = row_major_sa(p["sa"], kb + 1 if (kb + 1) % 4 else kb + 2)
            if m == 1:  # one row: any stride reads in place; a column view forces the copy
                odd = torch.as_strided(torch.zeros(2 * kb, device="cuda"), (1, kb), (kb, 2))
                odd.copy_(p["sa"])
            cases = {
                "canonical": (p["a"], p["sa"], p["b"], p["sb"]),
                "row in place": (p["a"], aligned, p["b"], p["sb"]),
                "row + copy": (p["a"], odd, p["b"], p["sb"]),
            }
            out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
            ref = None
            for name, c in cases.items():
                fp8gemm.gemm_nt_out(*c, out)
                if ref is None:
                    ref = out.clone()
                assert torch.equal(out, ref) or name == "row + copy", name
            times = {name: [] for name in cases}
            for _ in range(args.rounds):
                for name, c in cases.items():
                    times[name].append(bench_kernel(lambda c=c: fp8gemm.gemm_nt_out(*c, out), rep=30)["median_us"])
            med = {name: statistics.median(v) for name, v in times.items()}
            swap = fp8gemm.select_config("gemm_nt", m, n, k)["swap_ab"]
            rows.append((m, n, k, swap, med["canonical"], med["row in place"], med["row + copy"]))
    print("| M | N | K | swap-AB | canonical us | row-major in place us | row-major + copy us | in place / canonical | in place / copy |")
    print("|---|---|---|---|---|---|---|---|---|")
    for m, n, k, swap, c, r, cp in rows:
        print(f"| {m} | {n} | {k} | {'yes' if swap else 'no'} | {c:.1f} | {r:.1f} | {cp:.1f} | {r / c:.3f} | {r / cp:.3f} |")
    ratios = [r / c for *_, swap, c, r, cp in rows if swap]
    print(f"swap-AB rows: in place / canonical geomean {statistics.geometric_mean(ratios):.4f}, "
          f"max {max(ratios):.3f}; in place / copy geomean "
          f"{statistics.geometric_mean([r / cp for *_, swap, c, r, cp in rows if swap]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
