"""Per-stage host time of gemm_nt / gemm_nt_out, from a library built with the host trace:

    cmake -S . -B build/full -G Ninja -DCMAKE_CXX_FLAGS=-DFP8GEMM_HOST_TRACE && ninja -C build/full
    cp build/full/_C.so python/fp8gemm/_C.so
    PYTHONPATH=python python3 scripts/host_trace.py

Each call is timed from Python while a sleep kernel keeps the GPU busy; the library sums the
time between its FP8GEMM_TRACE marks (csrc/host_trace.hpp); what is left is Python, the
dispatcher and the stable-ABI boxing. (Rebuild with -DCMAKE_CXX_FLAGS= afterwards.)
"""

from __future__ import annotations

import ctypes
import statistics
import sys
import time

import torch

import fp8gemm
from fp8gemm import _native
from fp8gemm.testing import random_fp8_problem

LABELS = {0: "checks", 1: "alloc out / out checks", 2: "canonical sa", 4: "device guard + context",
          3: "config select", 5: "tensor maps", 6: "args + stream", 7: "cuLaunchKernelEx"}


def run(lib, name: str, fn, n: int = 200, reps: int = 9) -> None:
    buf = (ctypes.c_longlong * 16)()
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    totals, sums, count = [], [0] * 16, 0
    for _ in range(reps):
        lib.fp8gemm_host_trace(buf)  # reset
        torch.cuda._sleep(300_000_000)
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        totals.append((time.perf_counter() - t0) / n * 1e6)
        count += lib.fp8gemm_host_trace(buf)
        sums = [s + buf[i] for i, s in enumerate(sums)]
        torch.cuda.synchronize()
    total = statistics.median(totals)
    inner = sum(sums) / count / 1e3
    print(f"{name}: {total:.2f} us per call (min {min(totals):.2f}); in the op {inner:.2f}, outside {total - inner:.2f}")
    for i, label in LABELS.items():
        print(f"    {label:24s} {sums[i] / count / 1e3:6.2f} us")


def main() -> int:
    lib = _native.lib()
    if not hasattr(lib, "fp8gemm_host_trace"):
        print("this library was built without -DFP8GEMM_HOST_TRACE", file=sys.stderr)
        return 2
    lib.fp8gemm_host_trace.restype = ctypes.c_longlong
    for m, n, k in [(64, 2112, 7168), (4096, 7168, 2048)]:
        p = random_fp8_problem(m, n, k, "cuda", seed=1)
        a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
        out = torch.empty(m, n, dtype=torch.bfloat16, device="cuda")
        print(f"== (M, N, K) = {(m, n, k)}")
        run(lib, "gemm_nt", lambda: fp8gemm.gemm_nt(a, sa, b, sb))
        run(lib, "gemm_nt_out", lambda: fp8gemm.gemm_nt_out(a, sa, b, sb, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
