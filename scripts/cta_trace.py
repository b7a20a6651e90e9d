"""Per-CTA timelines of forced dense configs, from a trace build (cmake -DFP8GEMM_CTA_TRACE=ON).

  python scripts/cta_trace.py --shapes 4096,7168,16384 --configs 0,1 [--calls 3] [--dump DIR]

Each CTA of the 1D2D kernel prints, on the global nanosecond timer, when it started, when its
barriers were ready, when its first, second and last tiles began and when it ended, printed once
every CTA has ended (csrc/kernels/sm90_ptx.cuh): the event time of a traced call includes the
printing, the span read off the timestamps does not.
For each shape and config (after warm-up calls, each traced call after an L2 flush) this prints
how the call's span splits: the spread of the CTAs' start times, the time to the first tile,
the tiles' durations and the spread of the end times, and the share of SM time with no CTA
resident. Used to find where the cluster-less launches lose their ~2% (benchmarks/NOTES.md #81).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile

import torch

sys.path.insert(0, "python")
import fp8gemm  # noqa: E402
from fp8gemm import _native  # noqa: E402
from fp8gemm.testing import random_fp8_problem  # noqa: E402

libc = ctypes.CDLL(None)


class _Fd1To:
    """Sends file descriptor 1 (where the device printf goes) to a file for a block."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        sys.stdout.flush()
        libc.fflush(None)
        self.saved = os.dup(1)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.close(fd)

    def __exit__(self, *exc):
        torch.cuda.synchronize()
        libc.fflush(None)
        os.dup2(self.saved, 1)
        os.close(self.saved)


def parse(text: str) -> dict:
    ctas = {}
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == "FP8TR":
            v = [int(x) for x in f[1:]]
            ctas[v[0]] = dict(smid=v[1], t0=v[2], ready=v[3], first=v[4], second=v[5], last=v[6], end=v[7], n=v[8])
    return ctas


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]


def summarize(ctas: dict) -> dict:
    """Nanoseconds in, microseconds (and shares of the span) out."""
    cs = [c for c in ctas.values()]
    t_first = min(c["t0"] for c in cs)
    span = max(c["t0"] + c["end"] for c in cs) - t_first
    starts = [c["t0"] - t_first for c in cs]
    ends = [c["t0"] + c["end"] - t_first for c in cs]
    worked = [c for c in cs if c["n"] > 0]
    multi = [c for c in cs if c["n"] > 2]
    tile0 = [c["second"] - c["first"] for c in cs if c["n"] > 1]
    tile = [(c["last"] - c["second"]) / (c["n"] - 2) for c in multi]
    head = statistics.mean(c["t0"] - t_first + c["first"] for c in worked)
    by_n = {}
    for c, e in zip(cs, ends):
        by_n.setdefault(c["n"], []).append(e)
    return dict(ctas=len(cs), span_us=span / 1e3, start_spread_us=(max(starts) - min(starts)) / 1e3,
                ready_us=q([c["ready"] for c in cs], 0.5) / 1e3, first_us=q([c["first"] for c in worked], 0.5) / 1e3,
                tile0_us=statistics.median(tile0) / 1e3 if tile0 else 0.0,
                tile_us=statistics.median(tile) / 1e3 if tile else 0.0,
                tile_lo_us=min(tile) / 1e3 if tile else 0.0, tile_hi_us=max(tile) / 1e3 if tile else 0.0,
                last_us=statistics.median(c["end"] - c["last"] for c in worked) / 1e3,
                idle_share=1.0 - sum(c["end"] for c in cs) / (len(cs) * span), head_share=head / span,
                tail_share=statistics.mean(span - e for e in ends) / span,
                ends_by_tiles={n: (min(v) / 1e3, max(v) / 1e3, len(v)) for n, v in sorted(by_n.items())})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="+", required=True)
    ap.add_argument("--configs", required=True, help="comma-separated kernel indices (-1: the heuristic)")
    ap.add_argument("--calls", type=int, default=3, help="traced calls per shape and config")
    ap.add_argument("--dump", help="folder for the raw traces")
    args = ap.parse_args()
    lib = _native.lib()
    grid = fp8gemm.kernel_grid().strip().splitlines()
    flush = torch.empty(512 * 1024 * 1024, dtype=torch.uint8, device="cuda")
    tmp = tempfile.mkdtemp()
    for shape in args.shapes:
        m, n, k = (int(x) for x in shape.split(","))
        p = random_fp8_problem(m, n, k, seed=0)
        for idx in (int(c) for c in args.configs.split(",")):
            lib.fp8gemm_force_kernel(idx)
            name = grid[idx] if idx >= 0 else "heuristic"
            with _Fd1To(os.devnull):
                for _ in range(3):
                    fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"])
            rows = []
            for c in range(args.calls):
                flush.zero_()
                torch.cuda.synchronize()
                path = os.path.join(args.dump or tmp, f"trace_{m}_{n}_{k}_cfg{idx}_{c}.txt")
                ev0, ev1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                with _Fd1To(path):
                    ev0.record()
                    fp8gemm.gemm_nt(p["a"], p["sa"], p["b"], p["sb"])
                    ev1.record()
                s = summarize(parse(open(path).read()))
                s["event_us"] = ev0.elapsed_time(ev1) * 1e3
                rows.append(s)
            lib.fp8gemm_force_kernel(-1)
            print(f"\n{shape} cfg{idx} {name}", flush=True)
            for s in rows:
                print(f"  span {s['span_us']:.1f} us ({s['ctas']} CTAs; event {s['event_us']:.1f}, printing included): "
                      f"starts within {s['start_spread_us']:.2f}, barriers ready {s['ready_us']:.2f}, first tile "
                      f"{s['first_us']:.2f}; tile 0 {s['tile0_us']:.2f}, later tiles {s['tile_us']:.2f} "
                      f"({s['tile_lo_us']:.2f}-{s['tile_hi_us']:.2f}), last tile + drain {s['last_us']:.2f}; idle share "
                      f"{s['idle_share']:.4f} (before the first tile {s['head_share']:.4f}, after the CTA's end "
                      f"{s['tail_share']:.4f})", flush=True)
                print("    ends by tile count: " + ", ".join(
                    f"{n} tiles: {a:.1f}-{b:.1f} us ({c} CTAs)" for n, (a, b, c) in s["ends_by_tiles"].items()),
                    flush=True)


if __name__ == "__main__":
    main()
