"""``python -m fp8gemm info`` prints versions and the GPU; ``python -m fp8gemm bench [...]``
runs ``fp8gemm.bench``."""

from __future__ import annotations

import sys
import warnings
from typing import Sequence

USAGE = "usage: python -m fp8gemm {info,bench} [bench options]"


def info() -> int:
    """Print fp8gemm, torch and CUDA versions, the GPUs and the native library's path."""
    import torch

    import fp8gemm

    print(f"fp8gemm {getattr(fp8gemm, '__version__', 'unknown')}")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        print("GPU: none visible")
    for i in range(count):
        props = torch.cuda.get_device_properties(i)
        print(f"GPU {i}: {props.name}, sm_{props.major}{props.minor}, {props.multi_processor_count} SMs, "
              f"{props.total_memory / 2**30:.0f} GiB")
    print(f"library: {getattr(fp8gemm, '_lib_path', None)}")
    try:
        torch.ops.fp8gemm.gemm_nt.default
        loaded = "yes"
    except Exception as exc:
        loaded = f"no ({type(exc).__name__})"
    print(f"native ops loaded: {loaded}")
    print("ABI: LibTorch stable ABI (built for torch >= 2.10), kernels for sm_90a, CUDA runtime linked statically")
    if fp8gemm._native.is_loaded():
        grid = fp8gemm.kernel_grid().splitlines()
        print(f"compiled kernel grid: {len(grid)} configs")
        for line in grid:
            print(f"  {line}")
    if torch.cuda.is_available():
        cap = torch.cuda.get_device_capability()
        print("GPU supported: yes" if cap == (9, 0) else f"GPU supported: no (sm_{cap[0]}{cap[1]}; the kernels need sm_90)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch the ``info`` and ``bench`` subcommands; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "info":
        return info()
    if command == "bench":
        from .bench import main as bench_main

        return bench_main(rest, prog="python -m fp8gemm bench")
    print(f"{USAGE}\nunknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
