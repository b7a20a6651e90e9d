"""A/B timing of forced kernel configs against cuBLAS blockwise, round-robin in one process.

  python scripts/ab_configs.py --shapes 4096,7168,16384 4096,4096,7168 --configs 35,36,23 [--json F]

Each candidate is timed after an L2 flush, in rotating order over several rounds (the
benchmark's method), and checked against cuBLAS once. Prints one line per shape and
candidate: median us, TFLOPS, ratio to cuBLAS. A tag (--tag) labels the build in the
JSON so runs of different builds can be compared.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import _time_round_robin, blockwise_scaled_mm  # noqa: E402
from fp8gemm.testing import calc_diff, random_fp8_problem  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", required=True)
    ap.add_argument("--configs", default="", help="comma-separated kernel indices; empty: the heuristic only")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rep", type=int, default=10)
    ap.add_argument("--tag", default="")
    ap.add_argument("--json")
    args = ap.parse_args()
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    configs = [int(c) for c in args.configs.split(",") if c]
    rows = []
    for shape in args.shapes:
        m, n, k = (int(x) for x in shape.split(","))
        p = random_fp8_problem(m, n, k, seed=0)
        a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
        ref = blockwise_scaled_mm(a, sa, b, sb)
        cands = {"cublas": ref}

        def forced(idx: int):
            def run() -> torch.Tensor:
                lib.fp8gemm_force_kernel(idx)
                return fp8gemm.gemm_nt(a, sa, b, sb)

            return run

        cands["heuristic"] = forced(-1)
        for idx in configs:
            cands[f"cfg{idx}"] = forced(idx)
        expect = ref().float()
        for name, fn in cands.items():
            if name != "cublas":
                d = calc_diff(fn().float(), expect)
                if d > 1e-4:
                    print(f"{shape} {name}: WRONG diff {d:.2e}", flush=True)
        res = _time_round_robin(cands, args.rounds, args.rep, warmup=3)
        lib.fp8gemm_force_kernel(-1)
        flops = 2.0 * m * n * k
        for name, r in res.items():
            label = grid[int(name[3:])] if name.startswith("cfg") else name
            us = r["median_us"]
            row = {"tag": args.tag, "shape": [m, n, k], "name": name, "config": label, "median_us": us,
                   "tflops": flops / us / 1e6, "vs_cublas": res["cublas"]["median_us"] / us}
            rows.append(row)
            print(f"{args.tag:8s} {shape:18s} {name:10s} {us:9.1f} us {row['tflops']:7.0f} TF  x{row['vs_cublas']:.3f}  {label if name.startswith('cfg') else ''}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
