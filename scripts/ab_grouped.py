"""Every compiled config of a grouped layout, forced in turn, on the benchmark's grouped
shapes (same group sizes as `python -m fp8gemm.bench`), round-robin with the heuristic's
pick: the data the grouped heuristic is calibrated on.

  python scripts/ab_grouped.py masked:1,1024,4096,7168 contiguous:32,256,4096,7168 [--json F]

A shape may name the seed of its group-size draw (`masked:1,1024,4096,7168@2006`: the
benchmark draws shape i of its list with seed 2000 + i); 0 otherwise. Or it may fix every
group's rows (`masked:1,1024,4096,7168~1152`: one group of 1152 rows, Mmax as the draw's
largest), to time the configs across the spread the masked heuristic averages over.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import _time_round_robin  # noqa: E402
from fp8gemm._bench_grouped import _groups_of  # noqa: E402
from fp8gemm.utils import ceil_div  # noqa: E402
from fp8gemm.testing import contiguous_m_indices, forced_swapab, random_fp8_activations, random_fp8_weights  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("shapes", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rep", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--swap", default="", help="masked/offset: also force these swap-AB configs "
                    "(indices of fp8gemm.swapab_kernel_grid()), as IDX or IDX/SPLIT, comma-separated")
    args = ap.parse_args()
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    swap_grid = fp8gemm.swapab_kernel_grid().strip().splitlines()
    rows = []
    for spec in args.shapes:
        layout, dims = spec.split(":")
        dims, _, fixed = dims.partition("~")
        dims, _, seed = dims.partition("@")
        g, e, n, k = (int(x) for x in dims.split(","))
        sizes, mmax = _groups_of(layout, g, e, seed=int(seed or 0))
        if fixed:
            sizes, mmax = [int(fixed)] * g, max(mmax, ceil_div(int(fixed), 16) * 16)
        b, sb = random_fp8_weights(g, n, k, seed=1)
        if layout == "masked":
            a, sa = random_fp8_activations((g, mmax, k), seed=0)
            masked_m = torch.tensor(sizes, dtype=torch.int32, device="cuda")

            def call() -> torch.Tensor:
                return fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, e)
        elif layout == "offset":
            m = sum(sizes)
            a, sa = random_fp8_activations((m, k), seed=0)
            offsets = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()], dtype=torch.int32, device="cuda")

            def call() -> torch.Tensor:
                return fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offsets, e)
        else:
            idx = contiguous_m_indices(sizes)
            a, sa = random_fp8_activations((idx.numel(), k), seed=0)

            def call() -> torch.Tensor:
                return fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)

        def forced(i: int):
            def run() -> torch.Tensor:
                lib.fp8gemm_force_kernel(i)
                return call()

            return run

        def forced_swap(i: int, split: int):
            def run() -> torch.Tensor:
                lib.fp8gemm_force_kernel(-1)
                with forced_swapab(i, split):
                    return call()

            return run

        cands = {"heuristic": forced(-1)}
        labels = {"heuristic": "heuristic"}
        for i, line in enumerate(grid):
            # Row-major-scale twins are served only with row-major scales: forced here they
            # would fall back to the heuristic.
            if f"layout={layout}" in line and "out=bf16" in line and "sa=row" not in line:
                cands[f"cfg{i}"], labels[f"cfg{i}"] = forced(i), line
        if layout != "contiguous":
            for item in filter(None, args.swap.split(",")):
                idx, _, split = item.partition("/")
                name = f"swap{idx}/{split or 0}"
                cands[name] = forced_swap(int(idx), int(split or 0))
                labels[name] = f"{swap_grid[int(idx)]} split={split or 0}"
        ref = forced(-1)()
        for name, fn in cands.items():
            out = fn()
            if layout == "masked":
                bad = any(not torch.equal(out[gi, :s], ref[gi, :s]) for gi, s in enumerate(sizes))
            else:
                bad = False  # rows outside groups are unspecified; compare the whole only where defined
            if bad:
                print(f"{spec} {name}: differs from the heuristic's result", flush=True)
        res = _time_round_robin(cands, args.rounds, args.rep, warmup=2)
        lib.fp8gemm_force_kernel(-1)
        best = min(r["median_us"] for r in res.values())
        flops = 2.0 * sum(sizes) * n * k
        for name, r in sorted(res.items(), key=lambda kv: kv[1]["median_us"]):
            label = labels[name]
            us = r["median_us"]
            rows.append({"shape": spec, "name": name, "config": label, "median_us": us, "rows": sum(sizes)})
            print(f"{spec:32s} {name:10s} {us:9.1f} us {flops / us / 1e6:7.0f} TF x{us / best:.3f}  {label}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
