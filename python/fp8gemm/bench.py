"""``python -m fp8gemm.bench``: a correctness self-check, then the dense and grouped benchmarks.

Exit status: 0 all good; 1 a self-check or fp8gemm result was wrong, or the native
library is missing; 2 no sm_90 (Hopper) GPU here, nothing was run.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any, Sequence

import torch

EXIT_OK, EXIT_FAILED, EXIT_NO_HOPPER = 0, 1, 2

# A few shapes covering decode, partial K blocks, and a multi-wave problem.
SELF_CHECK_SHAPES: list[tuple[int, int, int]] = [
    (1, 2112, 7168),
    (128, 7168, 576),
    (1000, 4096, 2048),
    (4096, 7168, 7168),
]


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """Parse the command line (``--quick``, ``--json FILE``, ``--no-self-check``)."""
    parser = argparse.ArgumentParser(prog=prog or "python -m fp8gemm.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timing rounds and repetitions")
    parser.add_argument("--json", metavar="FILE", help="write every number to FILE as JSON")
    parser.add_argument(
        "--family", choices=("all", "dense", "grouped"), default="all", help="which op families to time (default: all)"
    )
    parser.add_argument(
        "--no-self-check", dest="self_check", action="store_false", help="skip the correctness self-check"
    )
    return parser.parse_args(argv)


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
        import fp8gemm  # noqa: F401

        torch.ops.fp8gemm.gemm_nt.default
    except Exception as exc:
        return f"fp8gemm native ops not available ({type(exc).__name__}: {exc})"
    return None


def self_check(fp8gemm: Any, shapes: Sequence[tuple[int, int, int]] = SELF_CHECK_SHAPES) -> bool:
    """gemm_nt (bf16 and fp32 out) against the float64 reference; prints one line per case."""
    from .testing import calc_diff, random_fp8_problem, reference_gemm_nt

    ok = True
    for i, (m, n, k) in enumerate(shapes):
        p = random_fp8_problem(m, n, k, "cuda", seed=i)
        args = (p["a"], p["sa"], p["b"], p["sb"])
        ref = reference_gemm_nt(*args)
        for dtype in (torch.bfloat16, torch.float32):
            try:
                out = fp8gemm.gemm_nt(*args, out_dtype=dtype)
                diff = calc_diff(out, ref)
                good = diff < 1e-5 and not torch.isnan(out).any().item()
                detail = f"calc_diff {diff:.2e}"
            except Exception as exc:
                good, detail = False, f"{type(exc).__name__}: {exc}"
            ok &= good
            name = str(dtype).replace("torch.", "")
            print(f"self-check m={m} n={n} k={k} {name}: {detail} {'ok' if good else 'FAILED'}", flush=True)
    return ok


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the self-check and the dense benchmark; return the exit status."""
    args = parse_args(argv, prog)
    reason = no_hopper_reason()
    if reason is not None:
        print(f"fp8gemm.bench: {reason}; nothing to run", file=sys.stderr)
        return EXIT_NO_HOPPER
    problem = native_library_problem()
    if problem is not None:
        print(f"fp8gemm.bench: {problem}", file=sys.stderr)
        return EXIT_FAILED

    import fp8gemm

    from . import _bench_dense, _bench_grouped

    props = torch.cuda.get_device_properties(0)
    env = {
        "device": props.name,
        "sm_count": props.multi_processor_count,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "fp8gemm": getattr(fp8gemm, "__version__", None),
    }
    print(" ".join(f"{k}={v}" for k, v in env.items()), flush=True)

    checked = self_check(fp8gemm) if args.self_check else None
    log = lambda s: print(s, flush=True)  # noqa: E731
    result: dict[str, Any] = {"rows": []}
    if args.family in ("all", "dense"):
        result = _bench_dense.run_dense(fp8gemm, quick=args.quick, log=log)
    if args.family in ("all", "grouped"):
        result["grouped"] = _bench_grouped.run_grouped(fp8gemm, quick=args.quick, log=log)
    result["env"] = env
    result["self_check_ok"] = checked
    if result["rows"]:
        print(_bench_dense.format_table(result), flush=True)
    if "grouped" in result:
        print(_bench_grouped.format_grouped_table(result["grouped"]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.json}")

    rows = result["rows"] + result.get("grouped", {}).get("rows", [])
    bench_ok = all("fp8gemm" not in r.get("notes", {}) for r in rows)
    return EXIT_OK if checked is not False and bench_ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
