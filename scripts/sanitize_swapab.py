"""Every compiled swap-AB config (forced) with K splits 1, 3 and 8 on small awkward shapes,
for compute-sanitizer (memcheck, racecheck, synccheck): partial weight tiles, partial K
blocks, M past the token tile, fp32 accumulate, CTAs with empty K slices.

    compute-sanitizer --tool racecheck python3 scripts/sanitize_swapab.py
    SWAPAB_SPLITS=1 ...   (only these K splits)
"""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.testing import calc_diff, random_fp8_problem, reference_gemm_nt, row_major_sa  # noqa: E402

SHAPES = [(1, 136, 112), (33, 200, 2064), (64, 136, 576)]


def main() -> int:
    lib = _native.lib()
    bad = 0
    lines = fp8gemm.swapab_kernel_grid().splitlines()
    for shape in SHAPES:
        p = random_fp8_problem(*shape, "cuda", seed=sum(shape))
        args = (p["a"], p["sa"], p["b"], p["sb"])
        ref = reference_gemm_nt(*args)
        row_args = (p["a"], row_major_sa(p["sa"]), p["b"], p["sb"])
        for i, line in enumerate(lines):
            if "sa=row" in line and p["sa"].shape[1] < 4:
                continue  # row-major scales are read in place from 4 K blocks on
            args_i = row_args if "sa=row" in line else args
            out_dtype = torch.float32 if "out=fp32" in line else torch.bfloat16
            for split in (int(s) for s in os.environ.get("SWAPAB_SPLITS", "1,3,8").split(",")):
                lib.fp8gemm_force_swapab(i, split)
                try:
                    out = torch.full(shape[:2], float("nan"), dtype=out_dtype, device="cuda")
                    fp8gemm.gemm_nt_out(*args_i, out)
                    if out_dtype == torch.float32:
                        fp8gemm.gemm_nt_out(*args_i, out, accumulate=True)
                        out = out / 2
                finally:
                    lib.fp8gemm_force_swapab(-1, 0)
                diff = calc_diff(out, ref)
                if not diff < 1e-5:
                    bad += 1
                    print(f"BAD {shape} {line} split={split}: calc_diff {diff:.3e}")
    print(f"swap-AB sanitize set: {bad} bad")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
