"""Contiguous layout: the heuristic's pick, the 128x128 and the 256x128 configs (no multicast),
each timed twice under its own name, round-robin over 10 shuffled rounds with seeds other
than the benchmarks' own, so a position effect shows up as duplicates that disagree
(benchmarks/NOTES.md #80). On a Hopper machine with the library built:

    PYTHONPATH=python python3 scripts/contig_dup_check.py
"""

from __future__ import annotations

import sys

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import _time_round_robin  # noqa: E402
from fp8gemm.testing import contiguous_m_indices, random_fp8_activations, random_fp8_weights  # noqa: E402

SHAPES = [(4, 8192, 4096, 7168), (8, 4096, 4096, 7168), (4, 8192, 7168, 2048), (32, 256, 4096, 7168)]


def bf16_configs(grid: list[str], block_m: int, block_n: int, layout: str = "contiguous") -> dict[str, int]:
    """Multicast ("none", "a", "b") -> grid index of the layout's bf16, canonical-scale
    configs of this tile (also used by contig_vs_dense.py and ncu_peers.py)."""
    out = {}
    for i, line in enumerate(grid):
        if (f"layout={layout} " in line and "out=bf16" in line and "sa=row" not in line
                and f"block_m={block_m} " in line and f"block_n={block_n} " in line):
            out[line.split("multicast=")[1].split()[0]] = i
    return out


def config_index(grid: list[str], block_m: int, block_n: int, layout: str = "contiguous") -> int:
    """The bf16, canonical-scale, no-multicast config of this tile."""
    i = bf16_configs(grid, block_m, block_n, layout).get("none")
    if i is None:
        raise SystemExit(f"no {layout} {block_m}x{block_n} config in this build's grid")
    return i


def main() -> None:
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    c128, c256 = config_index(grid, 128, 128), config_index(grid, 256, 128)
    print(f"cfg {c128} {grid[c128]}\ncfg {c256} {grid[c256]}")
    for g, rows, n, k in SHAPES:
        idx = contiguous_m_indices([rows] * g)
        a, sa = random_fp8_activations((idx.numel(), k), seed=0)
        b, sb = random_fp8_weights(g, n, k, seed=1)

        def forced(i: int):
            def run():
                lib.fp8gemm_force_kernel(i)
                return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)

            return run

        cands = {f"{name}_{copy}": forced(i) for copy in "ab" for name, i in (("heur", -1), ("c128", c128), ("c256", c256))}
        res = _time_round_robin(cands, rounds=10, rep=10, warmup=2, seed=1000)
        lib.fp8gemm_force_kernel(-1)
        flops = 2.0 * g * rows * n * k
        print((g, rows, n, k), "  ".join(f"{name} {r['median_us']:.1f}us/{flops / r['median_us'] / 1e6:.0f}TF"
                                         for name, r in res.items()), flush=True)


if __name__ == "__main__":
    main()
