"""Where a decode GEMM's fixed cost goes (issue 4): the swap-AB kernel at K = 128 .. 7168
(one K block per CTA up to the real shape) beside streaming reads of the same and of tiny
byte counts and an empty kernel, all after the benchmark's L2 flush, timed round-robin in
one process (`_time_round_robin`), optionally also with PDL on. The differences place the
fixed time: read(tiny) - noop is a launch's, gemm(K=128) - read(tiny) the kernel's own.

    PYTHONPATH=python python3 scripts/decode_fixed_cost.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json

import torch

import fp8gemm
from fp8gemm._bench_dense import _time_round_robin, streaming_read
from fp8gemm.testing import calc_diff, forced_swapab, random_fp8_problem, reference_gemm_nt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rep", type=int, default=20)
    args = ap.parse_args()
    cands = {}
    tiny = torch.zeros(1, device="cuda")
    cands["noop"] = tiny.zero_
    for nbytes in (64 << 10, 1 << 20, 2112 * 7168, 4096 * 7168):
        cands[f"read{nbytes >> 10}K"] = streaming_read(nbytes)
    bad = []
    # (m, n, k, split): the split 0 is the heuristic's
    for m, n, k, split in [(1, 2112, 128, 1), (1, 2112, 384, 3), (1, 2112, 1024, 1), (1, 2112, 3072, 3),
                           (1, 2112, 7168, 0), (1, 2112, 7168, 1), (8, 2112, 7168, 0),
                           (1, 4096, 256, 2), (1, 4096, 7168, 0), (1, 4096, 7168, 2),
                           (1, 7168, 128, 1), (1, 7168, 2048, 0)]:
        p = random_fp8_problem(m, n, k, "cuda", seed=m + n + k)
        a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
        ref = reference_gemm_nt(a, sa, b, sb)
        for pdl in (False, True):
            def run(a=a, sa=sa, b=b, sb=sb, split=split, pdl=pdl):
                fp8gemm.set_pdl(pdl)
                try:
                    with forced_swapab(0 if split else -1, split):
                        return fp8gemm.gemm_nt(a, sa, b, sb)
                finally:
                    fp8gemm.set_pdl(False)

            name = f"gemm{m},{n},{k}s{split or 'A'}{'pdl' if pdl else ''}"
            d = calc_diff(run(), ref)
            if not d < 1e-5:
                bad.append((name, d))
            cands[name] = run
    times = _time_round_robin(cands, args.rounds, args.rep, 3)
    for name, t in times.items():
        print(f"{name:28s} {t['median_us']:7.2f} us  (min {t['min_us']:.2f})")
    print("BAD:", bad if bad else "none")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: {k: v for k, v in t.items()} for n, t in times.items()}, f, indent=1)


if __name__ == "__main__":
    main()
