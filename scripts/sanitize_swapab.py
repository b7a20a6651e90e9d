"""Every compiled swap-AB config (forced) with K splits 1, 3 and 8 on small awkward shapes,
for compute-sanitizer (memcheck, racecheck, synccheck): partial weight tiles, partial K
blocks, M past the token tile, fp32 accumulate, CTAs with empty K slices; the grouped
configs on masked and offset problems whose groups take several token tiles, none or one.

    compute-sanitizer --tool racecheck python3 scripts/sanitize_swapab.py
    SWAPAB_SPLITS=1 ...   (only these K splits)
    SWAPAB_ONLY_GROUPED=1 ...   (only the grouped configs)
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm.testing import (  # noqa: E402
    calc_diff,
    forced_swapab,
    random_fp8_activations,
    random_fp8_problem,
    random_fp8_weights,
    reference_gemm_nt,
    row_major_sa,
)

SHAPES = [(1, 136, 112), (33, 200, 2064), (64, 136, 576)]
SPLITS = [int(s) for s in os.environ.get("SWAPAB_SPLITS", "1,3,8").split(",")]


def main() -> int:
    bad = 0
    lines = fp8gemm.swapab_kernel_grid().splitlines()
    for shape in [] if os.environ.get("SWAPAB_ONLY_GROUPED") else SHAPES:
        p = random_fp8_problem(*shape, "cuda", seed=sum(shape))
        args = (p["a"], p["sa"], p["b"], p["sb"])
        ref = reference_gemm_nt(*args)
        row_args = (p["a"], row_major_sa(p["sa"]), p["b"], p["sb"])
        for i, line in enumerate(lines):
            if "layout=grouped" in line:
                continue
            if "sa=row" in line and p["sa"].shape[1] < 4:
                continue  # row-major scales are read in place from 4 K blocks on
            args_i = row_args if "sa=row" in line else args
            out_dtype = torch.float32 if "out=fp32" in line else torch.bfloat16
            for split in SPLITS:
                with forced_swapab(i, split):
                    out = torch.full(shape[:2], float("nan"), dtype=out_dtype, device="cuda")
                    fp8gemm.gemm_nt_out(*args_i, out)
                    if out_dtype == torch.float32:
                        fp8gemm.gemm_nt_out(*args_i, out, accumulate=True)
                        out = out / 2
                diff = calc_diff(out, ref)
                if not diff < 1e-5:
                    bad += 1
                    print(f"BAD {shape} {line} split={split}: calc_diff {diff:.3e}")
    bad += grouped(lines)
    print(f"swap-AB sanitize set: {bad} bad")
    return 1 if bad else 0


def grouped(lines) -> int:
    """Masked (3 groups of up to 20 rows: 20, 0, 9) and offset (rows 0-5, none, 5-27) problems
    at N = 136, K = 2064 through every grouped config."""
    bad = 0
    n, k, g = 136, 2064, 3
    b, sb = random_fp8_weights(g, n, k, seed=5)
    am, sam = random_fp8_activations((g, 20, k), seed=6)
    counts = [20, 0, 9]
    masked_m = torch.tensor(counts, dtype=torch.int32, device="cuda")
    ao, sao = random_fp8_activations((27, k), seed=7)
    bounds = [0, 5, 5, 27]
    offsets = torch.tensor(bounds, dtype=torch.int32, device="cuda")
    for i, line in enumerate(lines):
        if "layout=grouped" not in line:
            continue
        row = "sa=row" in line
        for split in SPLITS:
            with forced_swapab(i, split):
                om = fp8gemm.m_grouped_gemm_nt_masked(am, row_major_sa(sam) if row else sam, b, sb, masked_m, 4)
                oo = fp8gemm.m_grouped_gemm_nt_offset(ao, row_major_sa(sao) if row else sao, b, sb, offsets, 4)
            diffs = [calc_diff(om[gi, :c], reference_gemm_nt(am[gi, :c], sam[gi, :c], b[gi], sb[gi]))
                     for gi, c in enumerate(counts) if c]
            diffs += [calc_diff(oo[bounds[gi]:bounds[gi + 1]], reference_gemm_nt(ao[bounds[gi]:bounds[gi + 1]],
                                sao[bounds[gi]:bounds[gi + 1]], b[gi], sb[gi])) for gi in range(g)
                      if bounds[gi + 1] > bounds[gi]]
            if not max(diffs) < 1e-5:
                bad += 1
                print(f"BAD grouped {line} split={split}: calc_diff {max(diffs):.3e}")
    return bad


if __name__ == "__main__":
    sys.exit(main())
