"""Masked and offset decode shapes (issue 4): the swap-AB path (the heuristic's pick and every
K split of its config) against the 1D2D kernel (swap-AB off) and a streaming read of the
weight bytes, round-robin after an L2 flush in one process. Group sizes are drawn as the
grouped benchmark draws them (0.75..1.25 x the expected rows, seeded).

    PYTHONPATH=python python3 scripts/grouped_decode_sweep.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import random

import torch

import fp8gemm
from fp8gemm._bench_dense import _time_round_robin, streaming_read
from fp8gemm.testing import calc_diff, forced_swapab, random_fp8_activations, random_fp8_weights, reference_gemm_nt

SHAPES = [("offset", g, e, 4096, 7168) for g, e in ((2, 16), (4, 16), (9, 32), (4, 32), (32, 64), (256, 8))]
SHAPES += [("masked", g, e, n, k) for g, e in ((1, 16), (2, 16), (4, 32), (32, 8)) for n, k in ((4096, 7168), (7168, 2048))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rep", type=int, default=10)
    args = ap.parse_args()
    grid = fp8gemm.swapab_kernel_grid().splitlines()
    rows_out = []
    for layout, g, e, n, k in SHAPES:
        rnd = random.Random(g * 1000 + e)
        sizes = [max(1, round(e * rnd.uniform(0.75, 1.25))) for _ in range(g)]
        mmax = -(-max(sizes) // 16) * 16
        b, sb = random_fp8_weights(g, n, k, seed=g + e)
        if layout == "masked":
            a, sa = random_fp8_activations((g, mmax, k), seed=g + e + 1)
            info = torch.tensor(sizes, dtype=torch.int32, device="cuda")
            ref = [reference_gemm_nt(a[gi, :s], sa[gi, :s], b[gi], sb[gi]) for gi, s in enumerate(sizes)]

            def call():
                return fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, info, e)

            def check(out):
                return max(calc_diff(out[gi, :s], ref[gi]) for gi, s in enumerate(sizes))
        else:
            bounds = [0]
            for s in sizes:
                bounds.append(bounds[-1] + s)
            a, sa = random_fp8_activations((bounds[-1], k), seed=g + e + 1)
            info = torch.tensor(bounds, dtype=torch.int32, device="cuda")
            ref = [reference_gemm_nt(a[bounds[gi]:bounds[gi + 1]], sa[bounds[gi]:bounds[gi + 1]], b[gi], sb[gi])
                   for gi in range(g)]

            def call():
                return fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, info, e)

            def check(out):
                return max(calc_diff(out[bounds[gi]:bounds[gi + 1]], ref[gi]) for gi in range(g))

        cfg = fp8gemm.select_config(f"m_grouped_gemm_nt_{layout}", e, n, k, num_groups=g, mem_bandwidth_gbs=4915)
        cands, diffs = {}, {}

        def add(name, index=-1, split=0, swap=True):
            def run():
                with forced_swapab(index, split, swap):
                    return call()

            diffs[name] = check(run())
            cands[name] = run

        add("auto")
        add("off", swap=False)
        want = min(mmax if layout == "masked" else sum(sizes), -(-e * 5 // 4))
        toks = [t for t in (8, 16, 32, 64) if t >= want]
        if toks:  # the swap-AB config the rule would take, forced even where the rule declines
            index = next(i for i, ln in enumerate(grid)
                         if f"tok={toks[0]} rows=64 " in ln and "ctas_per_sm=2" in ln and "out=bf16" in ln
                         and "sa=canonical" in ln and "layout=grouped" in ln)
            tiles = g * -(-n // 64)
            for split in (1, 2, 3, 4, 6, 8):
                if split <= -(-k // 128) and tiles * split <= 4 * 132:
                    add(f"s{split}", index, split)
        cands["read"] = streaming_read(g * n * k)
        times = _time_round_robin(cands, args.rounds, args.rep, 3)
        us = {name: t["median_us"] for name, t in times.items()}
        bad = [name for name, d in diffs.items() if not d < 1e-5]
        rows_out.append({"layout": layout, "g": g, "e": e, "n": n, "k": k, "sizes": sizes, "cfg": cfg, "us": us,
                         "diff": diffs})
        print(f"{layout:7s} G={g:4d} e={e:3d} n={n:5d} k={k:5d} auto={us['auto']:7.1f} off={us['off']:7.1f} "
              f"read={us['read']:7.1f} auto/read={us['auto'] / us['read']:.3f} off/read={us['off'] / us['read']:.3f} "
              f"(swap={int(cfg['swap_ab'])} t{cfg['block_m']} k{cfg['cluster']}) | "
              + " ".join(f"{nm}={v:.1f}" for nm, v in us.items() if nm.startswith("s"))
              + (f" BAD={bad}" if bad else ""), flush=True)
        del a, sa, b, sb, ref
        torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows_out, f, indent=1)


if __name__ == "__main__":
    main()
