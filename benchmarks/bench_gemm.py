"""Dense NT benchmark: fp8gemm.gemm_nt vs cuBLAS blockwise FP8 vs bf16 cuBLAS.

    python benchmarks/bench_gemm.py [--quick] [--json FILE] [--no-self-check]

A thin wrapper over ``python -m fp8gemm.bench`` (the logic lives in
``fp8gemm/_bench_dense.py``). Exit status 2 without an sm_90 GPU.
"""

from __future__ import annotations

import os
import sys

try:
    import fp8gemm  # noqa: F401
except ImportError:  # a source checkout that is not installed: use python/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from fp8gemm.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="benchmarks/bench_gemm.py"))
