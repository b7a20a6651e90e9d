"""``python -m fp8gemm.bench``: does fp8gemm work on this GPU, and how fast is it against
what you use now? A correctness self-check of every op, then every op family timed
against its peers, one table per family, a JSON report and an optional plot.

Exit status: 0 all good; 1 a self-check or fp8gemm result was wrong, or the native
library is missing; 2 no sm_90 (Hopper) GPU here, nothing was run.

Shapes (``--shapes``, inline or a file): entries separated by newlines, ``;`` or spaces,
``#`` starts a comment. ``M,N,K`` is a dense GEMM; ``contiguous:G,R,N,K``,
``masked:G,R,N,K`` and ``offset:G,R,N,K`` are grouped GEMMs of G groups of about R rows;
``wgrad:M,N,K`` a weight gradient, ``kwgrad:G,K,M,N`` a k-grouped one (G groups of K each).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import warnings
from typing import Any, Callable, Sequence

import torch

EXIT_OK, EXIT_FAILED, EXIT_NO_HOPPER = 0, 1, 2
FAMILIES = ("dense", "grouped", "wgrad")
GROUPED_LAYOUTS = ("contiguous", "masked", "offset")

Shapes = dict[str, list[tuple]]


# ---------------------------------------------------------------- command line


def parse_shapes(spec: str) -> Shapes:
    """Parse a shapes list (inline text, or the path of a file holding one).

    Returns ``{"dense": [(M, N, K), ...], "grouped": [(layout, G, R, N, K), ...]}``.
    Raises ValueError naming the entry that does not parse.
    """
    text = spec
    if os.path.isfile(spec):
        with open(spec) as f:
            text = f.read()
    out: Shapes = {"dense": [], "grouped": []}
    entries = []
    for line in text.splitlines():
        entries += line.split("#", 1)[0].replace(";", " ").split()
    for entry in entries:
        layout, _, dims = entry.rpartition(":")
        try:
            values = tuple(int(v) for v in dims.lower().replace("x", ",").split(","))
        except ValueError:
            raise ValueError(f"--shapes: cannot read {entry!r}: sizes must be integers") from None
        if any(v < 0 for v in values):
            raise ValueError(f"--shapes: {entry!r} has a negative size")
        if layout in ("wgrad", "kwgrad"):  # weight gradients: ("dense", M, N, K) / ("k_grouped", G, K, M, N)
            if len(values) != (3 if layout == "wgrad" else 4):
                raise ValueError(f"--shapes: {entry!r}: a weight-gradient shape is wgrad:M,N,K or kwgrad:G,K,M,N")
            out.setdefault("wgrad", []).append(("dense" if layout == "wgrad" else "k_grouped", *values))
        elif not layout:
            if len(values) != 3:
                raise ValueError(f"--shapes: {entry!r}: a dense shape is M,N,K")
            out["dense"].append(values)
        elif layout in GROUPED_LAYOUTS:
            if len(values) != 4:
                raise ValueError(f"--shapes: {entry!r}: a grouped shape is {layout}:G,R,N,K")
            out["grouped"].append((layout, *values))
        else:
            raise ValueError(f"--shapes: {entry!r}: unknown layout {layout!r} (one of {', '.join(GROUPED_LAYOUTS)})")
    if not entries:
        raise ValueError("--shapes: no shapes given")
    return out


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m fp8gemm.bench",
        description=__doc__.split("\n\n")[0].replace("``", ""),
        epilog=__doc__.split("\n\n")[2].replace("``", ""),
    )
    parser.add_argument("--quick", action="store_true", help="a few shapes and fewer repetitions (under a minute)")
    parser.add_argument("--family", choices=("all", *FAMILIES), default="all", help="op families to time")
    parser.add_argument("--shapes", metavar="SPEC", help="your shapes, inline or a file (see below)")
    parser.add_argument("--json", metavar="FILE", help="write the full report to FILE")
    parser.add_argument("--plot", metavar="FILE.png", help="draw TFLOPS against M per shape family (matplotlib)")
    parser.add_argument("--from-json", metavar="FILE", help="no GPU work: print and plot a saved report")
    parser.add_argument("--no-self-check", dest="self_check", action="store_false", help="skip the self-check")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    if args.shapes is not None:
        try:
            args.shape_list = parse_shapes(args.shapes)
        except ValueError as exc:
            parser.error(str(exc))
    else:
        args.shape_list = None
    return args


class Progress:
    """A progress bar on stderr (a plain line per step when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True, stream: Any = None) -> None:
        self.total, self.done, self.enabled = max(total, 1), 0, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if self.tty:
            width = 24
            filled = width * (self.done - 1) // self.total
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {label[:60]:<60}")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {label}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- environment


def no_hopper_reason() -> str | None:
    """Why this machine cannot run fp8gemm kernels, or None when it can."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no driver: torch may warn; the one line below says it all
        available = torch.cuda.is_available()
    if not available:
        return "no CUDA GPU visible (torch.cuda.is_available() is False)"
    cap = torch.cuda.get_device_capability()
    if cap != (9, 0):
        return f"GPU 0 is {torch.cuda.get_device_name()} (sm_{cap[0]}{cap[1]}), fp8gemm needs sm_90 (Hopper)"
    return None


def native_library_problem() -> str | None:
    """Why the fp8gemm ops cannot be called, or None when they can."""
    try:
        import fp8gemm  # noqa: F401  (loads the library and registers the ops)

        torch.ops.fp8gemm.gemm_nt.default
    except Exception as exc:
        return f"fp8gemm native ops not available ({type(exc).__name__}: {exc})"
    return None


# ---------------------------------------------------------------- self-check


def _case(name: str, fn: Callable[[], list[tuple[torch.Tensor, torch.Tensor]]]) -> dict[str, Any]:
    """Run one self-check case: fn returns (result, float64 reference) pairs."""
    from .testing import calc_diff

    try:
        pairs = fn()
        torch.cuda.synchronize()
        diff = max((calc_diff(o, r) for o, r in pairs if r.numel()), default=0.0)
        nan = any(torch.isnan(o).any().item() for o, _ in pairs)
        ok = diff < 1e-5 and not nan
        return {"op": name, "ok": ok, "calc_diff": diff, "detail": "NaN in the result" if nan else ""}
    except Exception as exc:
        return {"op": name, "ok": False, "calc_diff": None, "detail": f"{type(exc).__name__}: {exc}"}


def self_check_cases(fp8gemm: Any) -> list[tuple[str, Callable[[], list]]]:
    """Every op on awkward shapes (partial K blocks, odd group sizes), with its reference."""
    from .testing import (
        contiguous_m_indices,
        random_fp8_activations,
        random_fp8_problem,
        random_fp8_weights,
        reference_gemm_nt,
    )

    def dense(m: int, n: int, k: int, dtype: torch.dtype) -> Callable[[], list]:
        def run() -> list:
            p = random_fp8_problem(m, n, k, "cuda", seed=m + n + k)
            args = (p["a"], p["sa"], p["b"], p["sb"])
            return [(fp8gemm.gemm_nt(*args, out_dtype=dtype), reference_gemm_nt(*args))]

        return run

    def accumulate() -> list:
        p = random_fp8_problem(300, 2112, 1024, "cuda", seed=5)
        args = (p["a"], p["sa"], p["b"], p["sb"])
        out = torch.randn(300, 2112, device="cuda")
        ref = reference_gemm_nt(*args) + out.double()
        fp8gemm.gemm_nt_out(*args, out, accumulate=True)
        return [(out, ref)]

    g, n, k = 4, 2112, 576
    b, sb = None, None

    def weights() -> tuple:
        nonlocal b, sb
        if b is None:
            b, sb = random_fp8_weights(g, n, k, seed=6)
        return b, sb

    def contiguous() -> list:
        b, sb = weights()
        sizes = [1, 300, 0, 128]
        idx = contiguous_m_indices(sizes)
        a, sa = random_fp8_activations((idx.numel(), k), seed=7)
        out = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
        starts = [0, 128, 512, 512]
        return [(out[s : s + c], reference_gemm_nt(a[s : s + c], sa[s : s + c], b[i], sb[i]))
                for i, (s, c) in enumerate(zip(starts, sizes))]

    def masked() -> list:
        b, sb = weights()
        counts = [70, 1, 0, 33]
        a, sa = random_fp8_activations((g, 70, k), seed=8)
        mm = torch.tensor(counts, dtype=torch.int32, device="cuda")
        out = fp8gemm.m_grouped_gemm_nt_masked(a, sa, b, sb, mm, 32)
        return [(out[i, :c], reference_gemm_nt(a[i, :c], sa[i, :c], b[i], sb[i])) for i, c in enumerate(counts)]

    def offset() -> list:
        b, sb = weights()
        bounds = [0, 0, 1, 130, 194]
        a, sa = random_fp8_activations((bounds[-1], k), seed=9)
        offs = torch.tensor(bounds, dtype=torch.int32, device="cuda")
        out = fp8gemm.m_grouped_gemm_nt_offset(a, sa, b, sb, offs, 48)
        rows = [slice(bounds[i], bounds[i + 1]) for i in range(g)]
        return [(out[r], reference_gemm_nt(a[r], sa[r], b[i], sb[i])) for i, r in enumerate(rows)]

    def wgrad() -> list:
        from .quant import per_token_cast_to_fp8
        from .testing import random_wgrad_operand

        a, sa = per_token_cast_to_fp8(random_wgrad_operand(300, 1040, seed=10))
        b, sb = per_token_cast_to_fp8(random_wgrad_operand(264, 1040, seed=11))
        out = torch.randn(300, 264, device="cuda")
        ref = reference_gemm_nt(a, sa, b, sb) + out.double()
        fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
        return [(out, ref)]

    def k_grouped_wgrad() -> list:
        from .quant import k_grouped_cast_to_fp8
        from .testing import random_wgrad_operand, reference_k_grouped_wgrad

        ks = [256, 0, 1008, 16]
        a, sa = k_grouped_cast_to_fp8([random_wgrad_operand(136, k, seed=20 + i) for i, k in enumerate(ks)])
        b, sb = k_grouped_cast_to_fp8([random_wgrad_operand(264, k, seed=30 + i) for i, k in enumerate(ks)])
        out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, torch.tensor(ks, dtype=torch.int32, device="cuda"))
        ref = reference_k_grouped_wgrad(a, sa, b, sb, ks)
        return [(out[g], ref[g]) for g in range(len(ks))]

    return [
        ("gemm_nt bf16 1x2112x7168", dense(1, 2112, 7168, torch.bfloat16)),
        ("gemm_nt bf16 128x7168x576", dense(128, 7168, 576, torch.bfloat16)),
        ("gemm_nt fp32 1000x4096x2048", dense(1000, 4096, 2048, torch.float32)),
        ("gemm_nt bf16 4096x7168x7168", dense(4096, 7168, 7168, torch.bfloat16)),
        ("gemm_nt_out accumulate 300x2112x1024", accumulate),
        ("m_grouped_gemm_nt_contiguous", contiguous),
        ("m_grouped_gemm_nt_masked", masked),
        ("m_grouped_gemm_nt_offset", offset),
        ("wgrad_gemm_nt_out accumulate 300x264x1040", wgrad),
        ("k_grouped_wgrad_gemm_nt ks=[256, 0, 1008, 16]", k_grouped_wgrad),
    ]


# ---------------------------------------------------------------- timing extras


COLD_START_SCRIPT = """
import time, json, sys
t0 = time.perf_counter()
import torch
torch.cuda.init()
x = torch.zeros(1, device="cuda"); torch.cuda.synchronize()
t1 = time.perf_counter()
import fp8gemm
from fp8gemm.testing import random_fp8_problem
t2 = time.perf_counter()
p = random_fp8_problem(64, 2112, 7168, "cuda", seed=1); torch.cuda.synchronize()
args = (p["a"], p["sa"], p["b"], p["sb"])
t3 = time.perf_counter(); fp8gemm.gemm_nt(*args); torch.cuda.synchronize(); t4 = time.perf_counter()
fp8gemm.gemm_nt(*args); torch.cuda.synchronize(); t5 = time.perf_counter()
print(json.dumps({"import_fp8gemm_ms": (t2 - t1) * 1e3, "first_call_ms": (t4 - t3) * 1e3,
                  "second_call_ms": (t5 - t4) * 1e3}))
"""


def measure_cold_start() -> dict[str, Any]:
    """Import time and first-call time of fp8gemm in a fresh process (no JIT, no cache)."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT], capture_output=True, text=True,
                              timeout=300, env=env)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


# ---------------------------------------------------------------- report


def format_report(report: dict[str, Any]) -> str:
    """Every table of a report (a run's JSON), as printed at the end of a run."""
    from . import _bench_dense, _bench_grouped, _bench_wgrad

    lines = []
    env = report.get("env", {})
    if env:
        lines.append(" ".join(f"{k}={v}" for k, v in env.items()))
    floors = report.get("floors", {})
    if floors:
        lines.append(f"measured ceilings: FP8 peak {_bench_dense._fmt(floors.get('fp8_peak_tflops'), '.0f')} TFLOPS "
                     f"(cuBLAS, per-tensor scales), read bandwidth {_bench_dense._fmt(floors.get('read_gbps'), '.0f')} GB/s "
                     f"(1 GiB streaming read); floor = max(bytes / bandwidth, flops / peak)")
    check = report.get("self_check")
    if check:
        bad = [c for c in check["cases"] if not c["ok"]]
        lines.append(f"self-check: {len(check['cases']) - len(bad)}/{len(check['cases'])} ops ok"
                     + "".join(f"\n  FAILED {c['op']}: {c['detail'] or c['calc_diff']}" for c in bad))
    fams = report.get("families", {})
    if "dense" in fams:
        lines += ["", "== dense (gemm_nt)", _bench_dense.format_table(fams["dense"])]
    if "grouped" in fams:
        lines += ["", "== grouped (m_grouped_gemm_nt_*)", _bench_grouped.format_grouped_table(fams["grouped"])]
    if "wgrad" in fams:
        lines += ["", "== weight gradients (wgrad_gemm_nt_out, k_grouped_wgrad_gemm_nt_out; accumulating)",
                  _bench_wgrad.format_wgrad_table(fams["wgrad"])]
    cold = report.get("cold_start")
    if cold:
        if "error" in cold:
            lines.append(f"cold start: {cold['error']}")
        else:
            lines.append(f"cold start (fresh process): import fp8gemm {cold['import_fp8gemm_ms']:.0f} ms, "
                         f"first gemm_nt call {cold['first_call_ms']:.1f} ms, second {cold['second_call_ms']:.2f} ms")
    return "\n".join(lines)


def report_ok(report: dict[str, Any]) -> bool:
    """False when a self-check failed or an fp8gemm result in the benchmark was wrong."""
    check = report.get("self_check")
    if check and not all(c["ok"] for c in check["cases"]):
        return False
    rows = [r for fam in report.get("families", {}).values() for r in fam.get("rows", [])]
    return all("fp8gemm" not in r.get("notes", {}) for r in rows)


# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the self-check and the benchmarks; return the exit status."""
    args = parse_args(argv, prog)
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        print(format_report(report))
        if args.plot:
            from ._bench_plot import plot_report

            plot_report(report, args.plot)
            print(f"wrote {args.plot}")
        return EXIT_OK if report_ok(report) else EXIT_FAILED

    reason = no_hopper_reason()
    if reason is not None:
        print(f"fp8gemm.bench: {reason}; nothing to run", file=sys.stderr)
        return EXIT_NO_HOPPER
    problem = native_library_problem()
    if problem is not None:
        print(f"fp8gemm.bench: {problem}", file=sys.stderr)
        return EXIT_FAILED

    import fp8gemm

    from . import _bench_dense, _bench_grouped, _bench_wgrad

    props = torch.cuda.get_device_properties(0)
    report: dict[str, Any] = {
        "env": {
            "device": props.name,
            "sm_count": props.multi_processor_count,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "fp8gemm": getattr(fp8gemm, "__version__", None),
        },
        "quick": bool(args.quick),
        "families": {},
    }
    print(" ".join(f"{k}={v}" for k, v in report["env"].items()), flush=True)

    families = FAMILIES if args.family == "all" else (args.family,)
    shapes: Shapes = {}
    for fam in families:
        if args.shape_list is not None:
            shapes[fam] = args.shape_list.get(fam, [])
        elif fam == "wgrad":
            shapes[fam] = _bench_wgrad.QUICK_SHAPES if args.quick else _bench_wgrad.WGRAD_BENCH_SHAPES
        elif fam == "dense":
            shapes[fam] = _bench_dense.QUICK_SHAPES if args.quick else _bench_dense.DENSE_BENCH_SHAPES
        else:
            shapes[fam] = _bench_grouped.QUICK_SHAPES if args.quick else _bench_grouped.GROUPED_BENCH_SHAPES
    cases = self_check_cases(fp8gemm) if args.self_check else []
    total = len(cases) + sum(len(v) for v in shapes.values()) + 2  # + ceilings + cold start
    bar = Progress(total, enabled=args.progress)

    if cases:
        results = []
        for name, fn in cases:
            bar.step(f"self-check {name}")
            results.append(_case(name, fn))
        report["self_check"] = {"ok": all(c["ok"] for c in results), "cases": results}
    bar.step("measuring the FP8 peak and the read bandwidth")
    ceilings = {
        "fp8_peak_tflops": _bench_dense.measure_fp8_peak(size=4096 if args.quick else 8192),
        "read_gbps": _bench_dense.measure_read_bandwidth(),
    }
    report["floors"] = ceilings
    if shapes.get("dense"):
        report["families"]["dense"] = _bench_dense.run_dense(
            fp8gemm, shapes["dense"], quick=args.quick, log=bar.step, ceilings=ceilings)
    if shapes.get("grouped"):
        report["families"]["grouped"] = _bench_grouped.run_grouped(
            fp8gemm, shapes["grouped"], quick=args.quick, log=bar.step, ceilings=ceilings)
    if shapes.get("wgrad"):
        report["families"]["wgrad"] = _bench_wgrad.run_wgrad(
            fp8gemm, shapes["wgrad"], quick=args.quick, log=bar.step, ceilings=ceilings)
    bar.step("cold start (fresh process)")
    report["cold_start"] = measure_cold_start()
    bar.close()

    print(format_report(report), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        from ._bench_plot import plot_report

        try:
            plot_report(report, args.plot)
            print(f"wrote {args.plot}")
        except (RuntimeError, ValueError) as exc:
            print(f"fp8gemm.bench: no plot: {exc}", file=sys.stderr)
    return EXIT_OK if report_ok(report) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
