"""Does the contiguous layout cost anything over dense on the same work? 4 groups x 8192 rows
(N = 4096, K = 7168) against one dense GEMM of 32768 rows with the same A and group 0's
weights, each on 256x128 and 128x128 (no multicast), each candidate twice under its own
name, round-robin over shuffled rounds (benchmarks/NOTES.md #81). With the library built:

    PYTHONPATH=python python3 scripts/contig_vs_dense.py [G,ROWS,N,K ...]
"""

from __future__ import annotations

import sys

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import _time_round_robin  # noqa: E402
from fp8gemm.testing import contiguous_m_indices, random_fp8_activations, random_fp8_weights  # noqa: E402
from contig_dup_check import config_index  # noqa: E402  (scripts/ is sys.path[0])


def main() -> None:
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    shapes = [tuple(int(x) for x in s.split(",")) for s in sys.argv[1:]] or [(4, 8192, 4096, 7168)]
    for g, rows, n, k in shapes:
        idx = contiguous_m_indices([rows] * g)
        a, sa = random_fp8_activations((idx.numel(), k), seed=0)
        b, sb = random_fp8_weights(g, n, k, seed=1)
        b0, sb0 = b[0].contiguous(), sb[0].contiguous()

        def forced(i: int, dense: bool):
            def run():
                lib.fp8gemm_force_kernel(i)
                if dense:
                    return fp8gemm.gemm_nt(a, sa, b0, sb0)
                return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)

            return run

        cands = {}
        for copy in "ab":
            for layout in ("dense", "contiguous"):
                for bm in (256, 128):
                    cands[f"{layout[:6]}_{bm}_{copy}"] = forced(config_index(grid, bm, 128, layout), layout == "dense")
        res = _time_round_robin(cands, rounds=8, rep=10, warmup=2, seed=2000)
        lib.fp8gemm_force_kernel(-1)
        flops = 2.0 * g * rows * n * k
        print(f"== ({g} x {rows}, {n}, {k})")
        for name in sorted(res):
            t = res[name]["median_us"]
            print(f"  {name:16s} {t:9.1f} us  {flops / t / 1e6:7.0f} TFLOPS")


if __name__ == "__main__":
    main()
