"""A/B timing of whole builds of the library, interleaved, on one GPU.

  python scripts/ab_builds.py --variants base=.stage_base epi=.stage_epi [--rounds 3] [--json F]

Each variant is a folder holding a built `_C.so` (or `_C.so.gz`). One worker process per
variant and round (a process loads one library) times the dense shapes (fp8gemm.gemm_nt
with canonical scales, cuBLAS blockwise beside it) and the contiguous grouped shapes after
an L2 flush; the variants run in a seeded, shuffled order each round. Per shape it prints
each variant's median time over all rounds and its time over cuBLAS blockwise's in the
same process (which cancels clock drift between processes), relative to the first variant.
With --decode: the swap-AB shapes instead, each over a streaming read of its weight bytes.
With --wgrad: the weight-gradient benchmark's shapes (wgrad_gemm_nt_out accumulating, over
the cuBLAS pair `_scaled_mm` + add in the same process; k-grouped over the dense op on the
same total K).
FP8GEMM_AB_TIMING_ONLY=1 in the environment skips the dense correctness check, for timing
builds that skip work on purpose (their results are wrong).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DENSE = [(4096, n, k) for n, k in ((2112, 7168), (24576, 1536), (32768, 512), (7168, 16384), (4096, 7168),
                                    (7168, 2048), (7168, 576))]
DENSE += [(2048, 7168, 2048), (8192, 7168, 2048), (2048, 2112, 7168), (8192, 2112, 7168), (128, 7168, 2048),
          (128, 2112, 7168), (256, 4096, 7168), (1024, 7168, 2048)]
CONTIGUOUS = [(4, 8192, 4096, 7168), (8, 4096, 7168, 2048), (32, 256, 4096, 7168)]
# --decode: the swap-AB range, each normalized by a streaming read of its weight bytes in the
# same process (cuBLAS is too far off the floor there to cancel clock drift well).
DECODE = [(m, n, k) for m in (1, 8, 16, 32, 64) for n, k in ((2112, 7168), (4096, 7168), (7168, 2048))]
DECODE += [(64, 7168, 16384), (32, 7168, 16384), (32, 24576, 1536)]


def decode_worker(rep: int) -> dict:
    import fp8gemm
    from fp8gemm._bench_dense import streaming_read
    from fp8gemm.testing import bench_kernel, random_fp8_problem

    out = {}
    for m, n, k in DECODE:
        p = random_fp8_problem(m, n, k, seed=0)
        a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
        t = bench_kernel(lambda: fp8gemm.gemm_nt(a, sa, b, sb), warmup=3, rep=rep)["median_us"]
        tr = bench_kernel(streaming_read(n * k), warmup=3, rep=rep)["median_us"]
        out[f"decode {m},{n},{k}"] = (t, tr)
    return out


def wgrad_worker(rep: int) -> dict:
    import torch

    import fp8gemm
    from fp8gemm._bench_wgrad import WGRAD_BENCH_SHAPES, _operands, cublas_wgrad
    from fp8gemm.testing import bench_kernel, random_k_grouped_wgrad_problem

    out = {}
    for shape in WGRAD_BENCH_SHAPES:
        if shape[0] == "dense":
            _, m, n, k = shape
            a, sa, b, sb = _operands(m, n, k, seed=0)
            acc = torch.zeros(m, n, device="cuda")
            cublas = cublas_wgrad(a, sa, b, sb)
            t = bench_kernel(lambda: fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, acc), warmup=3, rep=rep)["median_us"]
            tp = bench_kernel(lambda: acc.add_(cublas()), warmup=3, rep=rep)["median_us"]
            out[f"wgrad {m},{n},{k}"] = (t, tp)
        else:
            _, g, kg, m, n = shape
            a, sa, b, sb = random_k_grouped_wgrad_problem(m, n, [kg] * g)
            ks = torch.full((g,), kg, dtype=torch.int32, device="cuda")
            acc = torch.zeros(g, m, n, device="cuda")
            da, dsa, db, dsb = _operands(m, n, g * kg, seed=0)
            dacc = torch.zeros(m, n, device="cuda")
            t = bench_kernel(lambda: fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, acc), warmup=3,
                             rep=rep)["median_us"]
            tp = bench_kernel(lambda: fp8gemm.wgrad_gemm_nt_out(da, dsa, db, dsb, dacc), warmup=3, rep=rep)["median_us"]
            out[f"k_grouped {g},{kg},{m},{n}"] = (t, tp)
    return out


def worker(rep: int, mode: str = "") -> None:
    if mode == "decode":
        print("RESULT " + json.dumps(decode_worker(rep)), flush=True)
        return
    if mode == "wgrad":
        print("RESULT " + json.dumps(wgrad_worker(rep)), flush=True)
        return
    import torch

    import fp8gemm
    from fp8gemm._bench_dense import blockwise_scaled_mm
    from fp8gemm.testing import bench_kernel, calc_diff, random_fp8_activations, random_fp8_problem, random_fp8_weights
    from fp8gemm.utils import get_col_major_tma_aligned_tensor

    out = {}
    for m, n, k in DENSE:
        p = random_fp8_problem(m, n, k, seed=0)
        a, sa, b, sb = p["a"], p["sa"], p["b"], p["sb"]
        ours = lambda: fp8gemm.gemm_nt(a, sa, b, sb)  # noqa: E731
        peer = blockwise_scaled_mm(a, sa, b, sb) if k % 128 == 0 else None
        if peer is not None:
            diff = calc_diff(ours(), peer())
            if os.environ.get("FP8GEMM_AB_TIMING_ONLY") != "1":
                assert diff < 1e-4, (m, n, k, diff)
        t = bench_kernel(ours, warmup=3, rep=rep)["median_us"]
        tp = bench_kernel(peer, warmup=3, rep=rep)["median_us"] if peer else None
        out[f"dense {m},{n},{k}"] = (t, tp)
    for g, e, n, k in CONTIGUOUS:
        b, sb = random_fp8_weights(g, n, k, seed=1)
        a, sa = random_fp8_activations((g * e, k), seed=2)
        sa = get_col_major_tma_aligned_tensor(sa)
        idx = torch.arange(g, device="cuda", dtype=torch.int32).repeat_interleave(e)
        t = bench_kernel(lambda: fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx), warmup=3, rep=rep)["median_us"]
        out[f"contiguous {g},{e},{n},{k}"] = (t, None)
    print("RESULT " + json.dumps(out), flush=True)


def stage(name: str, folder: str, root: str) -> str:
    """A package copy with the variant's library; returns its PYTHONPATH entry."""
    dest = os.path.join(root, name)
    shutil.copytree(os.path.join(REPO, "python", "fp8gemm"), os.path.join(dest, "fp8gemm"),
                    ignore=shutil.ignore_patterns("_C.so", "__pycache__"))
    lib = os.path.join(folder, "_C.so")
    target = os.path.join(dest, "fp8gemm", "_C.so")
    if os.path.exists(lib):
        shutil.copy(lib, target)
    else:
        with gzip.open(lib + ".gz", "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return dest


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", required=True, help="name=folder (the first is the baseline)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rep", type=int, default=10)
    ap.add_argument("--json")
    ap.add_argument("--decode", action="store_true", help="the decode shapes (ratios to a streaming read)")
    ap.add_argument("--wgrad", action="store_true", help="the weight-gradient shapes (ratios to the cuBLAS pair)")
    args = ap.parse_args()
    variants = dict(v.split("=", 1) for v in args.variants)
    names = list(variants)
    root = tempfile.mkdtemp(prefix="ab_builds_")
    paths = {name: stage(name, os.path.join(REPO, folder), root) for name, folder in variants.items()}
    samples: dict[str, dict[str, list]] = {name: {} for name in names}
    for r in range(args.rounds):
        order = names[:]
        random.Random(r).shuffle(order)
        for name in order:
            env = dict(os.environ, PYTHONPATH=paths[name])
            mode = ["decode"] if args.decode else (["wgrad"] if args.wgrad else [])
            res = subprocess.run([sys.executable, __file__, "--worker", str(args.rep)] + mode, env=env,
                                 capture_output=True, text=True)
            line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")]
            if res.returncode != 0 or not line:
                print(f"{name} round {r} failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}", flush=True)
                sys.exit(1)
            for shape, tt in json.loads(line[0][7:]).items():
                samples[name].setdefault(shape, []).append(tt)
            print(f"round {r} {name} done", flush=True)
    base = names[0]
    table = {}
    peer = "read" if args.decode else ("pair" if args.wgrad else "cuB")
    print(f"{'shape':34s} " + " ".join(f"{n + ' us':>11s} {n + '/' + peer:>9s}" for n in names) +
          " " + " ".join(f"{n + '/' + base:>12s}" for n in names[1:]))
    for shape in samples[base]:
        cells, row = [], {}
        for name in names:
            tts = samples[name][shape]
            t = statistics.median(x[0] for x in tts)
            ratio = statistics.median(x[0] / x[1] for x in tts) if tts[0][1] else None
            row[name] = {"us": t, "over_cublas": ratio}
            cells.append(f"{t:11.1f} {ratio:9.3f}" if ratio else f"{t:11.1f} {'-':>9s}")
        rel = []
        for name in names[1:]:
            a, b = row[name], row[base]
            rel.append(a["over_cublas"] / b["over_cublas"] if a["over_cublas"] else a["us"] / b["us"])
        table[shape] = row
        print(f"{shape:34s} " + " ".join(cells) + " " + " ".join(f"{x:12.3f}" for x in rel))
    for name in names[1:]:
        rels = []
        for shape, row in table.items():
            a, b = row[name], row[base]
            rels.append(a["over_cublas"] / b["over_cublas"] if a["over_cublas"] else a["us"] / b["us"])
        print(f"geomean {name}/{base}: {statistics.geometric_mean(rels):.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"variants": variants, "table": table, "samples": samples}, f, indent=1)


if __name__ == "__main__":
    main()
