"""Swap-AB decode sweep (issue 4): every relevant swap-AB config and K split against the
1D2D kernel (swap-AB off) and a streaming read of the same weight bytes, timed round-robin
after an L2 flush in one process. Prints one line per shape; --json writes every timing.

    PYTHONPATH=python python3 scripts/swapab_sweep.py [--json FILE] [--m 1,4,...]
"""

from __future__ import annotations

import argparse
import json

import torch

import fp8gemm
from fp8gemm._bench_dense import _time_round_robin, streaming_read, torch_sum_read
from fp8gemm.testing import calc_diff, forced_swapab, random_fp8_problem, reference_gemm_nt


NK = [(2112, 7168), (4096, 7168), (7168, 2048), (24576, 1536), (7168, 16384)]


def configs() -> list[tuple[int, int, int, int]]:
    """(index, tok, rows, ctas_per_sm) of the bf16 swap-AB configs for canonical scales."""
    out = []
    for i, line in enumerate(fp8gemm.swapab_kernel_grid().splitlines()):
        if "out=bf16" in line and "sa=canonical" in line and "layout=grouped" not in line:
            tok, rows, ctas = (int(line.split(f"{key}=")[1].split()[0]) for key in ("tok", "rows", "ctas_per_sm"))
            out.append((i, tok, rows, ctas))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--m", default="1,4,8,16,32,64,96,128")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rep", type=int, default=10)
    args = ap.parse_args()
    cfgs = configs()
    rows_out = []
    for m in (int(v) for v in args.m.split(",")):
        for n, k in NK:
            p = random_fp8_problem(m, n, k, "cuda", seed=m * 7 + n + k)
            a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
            ref = reference_gemm_nt(a, sa, b, sb)
            tok = min([c[1] for c in cfgs if c[1] >= m] or [max(c[1] for c in cfgs)])
            cands = {}
            diffs = {}

            def add(name, index, split, swap_on=True):
                def run():
                    with forced_swapab(index, split, swap_on):
                        return fp8gemm.gemm_nt(a, sa, b, sb)

                diffs[name] = calc_diff(run(), ref)
                cands[name] = run

            add("off", -1, 0, swap_on=False)
            add("auto", -1, 0)
            kb = -(-k // 128)
            for index, t, rows, ctas in cfgs:
                if t != tok:
                    continue
                tiles = -(-n // rows) * -(-m // t)
                for split in (1, 2, 3, 4, 6, 8):
                    if split > kb or tiles * split > 4 * 132 or (split > 1 and tiles * split < 33):
                        continue
                    add(f"t{t}r{rows}c{ctas}s{split}", index, split)
            # the benchmark's floor (a Triton read where Triton is installed) and torch.sum
            cands["read"] = streaming_read(n * k)
            cands["sread"] = torch_sum_read(n * k)
            tiny = torch.zeros(1, device="cuda")
            cands["noop"] = tiny.zero_
            times = _time_round_robin(cands, args.rounds, args.rep, 3)
            us = {name: t["median_us"] for name, t in times.items()}
            forced = {name: v for name, v in us.items() if name[0] == "t"}
            best = min(forced, key=forced.get) if forced else None
            cfg = fp8gemm.select_config("gemm_nt", m, n, k)
            row = {"m": m, "n": n, "k": k, "us": us, "diff": diffs, "auto_cfg": cfg, "best": best}
            rows_out.append(row)
            bad = [name for name, d in diffs.items() if not d < 1e-5]
            print(f"m={m:4d} n={n:6d} k={k:6d} off={us['off']:7.1f} auto={us['auto']:7.1f} "
                  f"(t{cfg['block_m']}r{cfg['block_n']}s{cfg['cluster']} swap={int(cfg['swap_ab'])}) "
                  f"best={best}:{forced.get(best, float('nan')):7.1f} read={us['read']:7.1f} "
                  f"sread={us['sread']:6.1f} noop={us['noop']:4.1f} "
                  f"auto/read={us['auto'] / us['read']:.2f} auto/sread={us['auto'] / us['sread']:.2f} | "
                  + " ".join(f"{name}={v:.1f}" for name, v in sorted(forced.items()))
                  + (f" BAD={bad}" if bad else ""), flush=True)
            del p, a, sa, b, sb, ref
            torch.cuda.empty_cache()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows_out, f, indent=1)


if __name__ == "__main__":
    main()
