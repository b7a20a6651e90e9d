"""Times every compiled bf16 config (each forced in turn) on the dense benchmark shapes
and prints, per shape, the fastest configs next to the heuristic's pick: the data the
heuristic's model is calibrated on. Usage: python scripts/gpu_sweep.py [--quick] [--json F]"""

from __future__ import annotations

import argparse
import json
import sys

import torch

sys.path.insert(0, "python")
sys.path.insert(0, "scripts")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8  # noqa: E402
from fp8gemm.testing import bench_kernel  # noqa: E402

NK = [(2112, 7168), (24576, 1536), (32768, 512), (7168, 16384), (4096, 7168), (7168, 2048), (7168, 576)]


def time_us(fn, reps):
    return bench_kernel(fn, warmup=1, rep=reps)["median_us"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--ms", default="64,128,4096")
    args = ap.parse_args()
    lib = _native.lib()
    configs = fp8gemm.kernel_grid().strip().splitlines()
    report = []
    for m in [int(x) for x in args.ms.split(",")]:
        for n, k in NK:
            a, sa = per_token_cast_to_fp8(torch.randn(m, k, device="cuda"))
            b, sb = per_block_cast_to_fp8(torch.randn(n, k, device="cuda"))
            out = torch.empty(m, n, device="cuda", dtype=torch.bfloat16)
            reps = 5 if args.quick else 15
            lib.fp8gemm_force_kernel(-1)
            heur = time_us(lambda: fp8gemm.gemm_nt_out(a, sa, b, sb, out), reps)
            cfg = fp8gemm.select_config("gemm_nt", m, n, k)
            results = []
            for idx, line in enumerate(configs):
                if "out=fp32" in line or "layout=dense" not in line or "sa=row" in line:
                    continue
                bm = int(line.split("block_m=")[1].split()[0])
                bn = int(line.split("block_n=")[1].split()[0])
                if ("multicast=a" in line and -(-n // bn) % 2) or ("multicast=b" in line and -(-m // bm) % 2):
                    continue  # the dispatcher would refuse the pairing and fall back: not this config
                lib.fp8gemm_force_kernel(idx)
                results.append((time_us(lambda: fp8gemm.gemm_nt_out(a, sa, b, sb, out), reps), line))
            lib.fp8gemm_force_kernel(-1)
            results.sort()
            flops = 2 * m * n * k
            best = results[0]
            name = lambda l: " ".join(w.split("=")[1] for w in l.split()[2:6])  # noqa: E731
            print(f"{m:5d} {n:6d} {k:6d} heur {heur:8.1f}us {flops/heur/1e6:6.0f}TF "
                  f"[{cfg['block_m']} {cfg['block_n']} {cfg['stages']} {cfg['multicast']}]  best {best[0]:8.1f}us "
                  f"{flops/best[0]/1e6:6.0f}TF [{name(best[1])}]  2nd [{name(results[1][1])}] {results[1][0]:.1f}  "
                  f"3rd [{name(results[2][1])}] {results[2][0]:.1f}", flush=True)
            report.append({"m": m, "n": n, "k": k, "heuristic_us": heur, "heuristic": cfg,
                           "all": [{"us": t, "config": l} for t, l in results]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
