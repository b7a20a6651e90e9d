"""Decode loop with programmatic dependent launch off and on: a chain of back-to-back
fp8gemm calls on one stream (each accumulating into the previous one's output), timed
eagerly and as a replayed CUDA graph. Usage: python scripts/pdl_bench.py"""

from __future__ import annotations

import statistics
import sys

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm.testing import random_fp8_problem  # noqa: E402

CHAIN = 32


def time_chain(fn, reps: int = 20) -> float:
    """Median microseconds per call of a CHAIN-long sequence (no L2 flush: steady-state decode)."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / CHAIN)
    return statistics.median(times)


def main() -> None:
    print(f"{'M':>4} {'N':>6} {'K':>6} | {'eager off':>9} {'eager on':>9} | {'graph off':>9} {'graph on':>9}  (us per call)")
    for m, n, k in [(1, 2112, 7168), (64, 2112, 7168), (64, 7168, 2048), (64, 4096, 7168), (128, 7168, 576)]:
        p = random_fp8_problem(m, n, k, seed=1)
        out = torch.zeros(m, n, device="cuda")
        args = (p["a"], p["sa"], p["b"], p["sb"])

        def chain():
            for _ in range(CHAIN):
                fp8gemm.gemm_nt_out(*args, out, accumulate=True)

        row = []
        for mode in ("eager", "graph"):
            for pdl in (False, True):
                fp8gemm.set_pdl(pdl)
                if mode == "eager":
                    row.append(time_chain(chain))
                else:
                    chain()
                    graph = torch.cuda.CUDAGraph()
                    with torch.cuda.graph(graph):
                        chain()
                    row.append(time_chain(graph.replay))
        fp8gemm.set_pdl(False)
        print(f"{m:>4} {n:>6} {k:>6} | {row[0]:9.2f} {row[1]:9.2f} | {row[2]:9.2f} {row[3]:9.2f}", flush=True)


if __name__ == "__main__":
    main()
