"""A/B timing of the tail split (sm90_scheduler.cuh) on and off, against cuBLAS blockwise,
round-robin in one process (the benchmark's method: L2 flushed, rotating order, medians).

  python scripts/ab_split_tail.py [--dense-m 128,256,...] [--masked] [--json F]

Dense: M in --dense-m x the DeepSeek (N, K) pairs; "on" and "off" are the heuristic's
choice with the split on and off (the config may differ: the model counts a split last
round as 0.6 of one). Masked: the benchmark's (G, expected rows) shapes with the same row
draw; cuBLAS is then one blockwise call per group. Each result is checked against cuBLAS.
Prints one line per shape: us on / off / cuBLAS, the ratios, and both configs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm._bench_dense import _time_round_robin, blockwise_scaled_mm  # noqa: E402
from fp8gemm._bench_grouped import _groups_of  # noqa: E402
from fp8gemm.testing import calc_diff, random_fp8_activations, random_fp8_problem, random_fp8_weights  # noqa: E402

NK = [(2112, 7168), (24576, 1536), (32768, 512), (7168, 16384), (4096, 7168), (7168, 2048), (7168, 576)]
MASKED = [(g, e, n, k) for (g, e) in ((1, 1024), (2, 512), (4, 256)) for (n, k) in ((4096, 7168), (7168, 2048))]


def cfg_str(c: dict) -> str:
    mc = "" if c.get("multicast") in (None, "none") else f" mc={c['multicast']}"
    return f"{c['block_m']}x{c['block_n']}{mc} g{c['grid']}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dense-m", default="128,256,512,1024,2048,4096,8192")
    ap.add_argument("--masked", action="store_true")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rep", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    lib = _native.lib()
    rows = []

    def with_split(on: int, fn):
        def run():
            lib.fp8gemm_set_split_tail(on)
            return fn()

        return run

    def measure(label: str, ours, cublas, configs: tuple[str, str]) -> None:
        expect = cublas()
        expect = torch.cat([e.float().flatten() for e in expect]) if isinstance(expect, list) else expect.float()
        for on in (1, 0):
            got = with_split(on, ours)()
            got = torch.cat([x.float().flatten() for x in got]) if isinstance(got, list) else got.float()
            d = calc_diff(got, expect)
            if d > 1e-4:
                print(f"{label}: WRONG (split {on}) diff {d:.2e}", flush=True)
        res = _time_round_robin({"on": with_split(1, ours), "off": with_split(0, ours), "cublas": cublas},
                                args.rounds, args.rep, warmup=3)
        lib.fp8gemm_set_split_tail(1)
        on, off, cb = (res[x]["median_us"] for x in ("on", "off", "cublas"))
        row = {"shape": label, "on_us": on, "off_us": off, "cublas_us": cb, "on_vs_cublas": cb / on,
               "off_vs_cublas": cb / off, "off_over_on": off / on, "config_on": configs[0], "config_off": configs[1]}
        rows.append(row)
        print(f"{label:28s} on {on:8.1f}  off {off:8.1f}  cuBLAS {cb:8.1f} | x{cb / on:.3f} x{cb / off:.3f} "
              f"off/on {off / on:.3f} | {configs[0]:18s} {configs[1]}", flush=True)

    for m in (int(x) for x in args.dense_m.split(",") if x):
        for n, k in NK:
            if k % 128:
                continue  # cuBLAS blockwise is wrong there
            p = random_fp8_problem(m, n, k, seed=0)
            a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
            cfgs = []
            for on in (1, 0):
                lib.fp8gemm_set_split_tail(on)
                cfgs.append(cfg_str(fp8gemm.select_config("gemm_nt", m, n, k)))
            lib.fp8gemm_set_split_tail(1)
            if fp8gemm.select_config("gemm_nt", m, n, k).get("swap_ab"):
                continue  # served by the swap-AB kernel, which the split does not touch
            measure(f"dense {m},{n},{k}", lambda: fp8gemm.gemm_nt(a, sa, b, sb), blockwise_scaled_mm(a, sa, b, sb),
                    (cfgs[0], cfgs[1]))

    if args.masked:
        for g, e, n, k in MASKED:
            sizes, mmax = _groups_of("masked", g, e, seed=0)
            a, sa = random_fp8_activations((g, mmax, k), seed=1)
            b, sb = random_fp8_weights(g, n, k, seed=2)
            masked_m = torch.tensor(sizes, dtype=torch.int32, device="cuda")
            cfgs = []
            for on in (1, 0):
                lib.fp8gemm_set_split_tail(on)
                cfgs.append(cfg_str(fp8gemm.select_config("m_grouped_gemm_nt_masked", e, n, k, num_groups=g)))
            lib.fp8gemm_set_split_tail(1)
            pad = [(s + 15) // 16 * 16 for s in sizes]
            per_group = [blockwise_scaled_mm(a[gi, : pad[gi]], sa[gi, : pad[gi]], b[gi], sb[gi]) for gi in range(g)]

            def ours(a=a, sa=sa, b=b, sb=sb, masked_m=masked_m, e=e, sizes=sizes):
                out = fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, masked_m, e)
                return [out[gi, :s] for gi, s in enumerate(sizes)]

            def cublas(per_group=per_group, sizes=sizes):
                return [f()[:s] for f, s in zip(per_group, sizes)]

            measure(f"masked {g}x{e} ({'/'.join(map(str, sizes))}),{n},{k}", ours, cublas, (cfgs[0], cfgs[1]))

    ratios = [r["off_over_on"] for r in rows]
    if ratios:
        print(f"geomean off/on {statistics.geometric_mean(ratios):.4f}  min {min(ratios):.3f}  max {max(ratios):.3f}")
        print(f"geomean vs cuBLAS: on {statistics.geometric_mean([r['on_vs_cublas'] for r in rows]):.4f}  "
              f"off {statistics.geometric_mean([r['off_vs_cublas'] for r in rows]):.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
