"""``python -m fp8gemm info`` prints versions and the GPU; ``python -m fp8gemm bench [...]``
runs ``fp8gemm.bench``."""

from __future__ import annotations

import sys
import warnings
from typing import Sequence

USAGE = "usage: python -m fp8gemm {info,bench} [bench options]"


def info() -> int:
    """Print versions, the GPUs, the native library and its compiled kernel grid, and
    whether this GPU is supported (and why not)."""
    import torch

    import fp8gemm

    print(f"fp8gemm {getattr(fp8gemm, '__version__', 'unknown')}")
    print(f"torch {torch.__version__} (built for CUDA {torch.version.cuda})")
    loaded = fp8gemm._native.is_loaded()
    if loaded:
        _, driver = fp8gemm._native.cuda_versions()
        release = fp8gemm._native.driver_release()
        toolchain, needs = fp8gemm._native.cubin_toolchain()
        if driver == "none":
            print("NVIDIA driver: none (libcuda.so.1 could not be loaded)")
        else:
            print(f"NVIDIA driver: {release or 'unknown release'}, supports CUDA {driver}")
        print(f"cubins: {toolchain} (load on drivers for CUDA >= {needs})")
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
    print(f"native ops loaded: {'yes' if loaded else f'no ({fp8gemm._native.load_error})'}")
    print("ABI: LibTorch stable ABI (built for torch >= 2.10), kernels for sm_90a; no CUDA runtime linked "
          "(driver API, libcuda.so.1 opened at run time)")
    if loaded:
        grid = fp8gemm.kernel_grid().splitlines()
        families: dict[str, list[str]] = {}
        for line in grid:
            layout = line.split("layout=")[1].split()[0] if "layout=" in line else "?"
            families.setdefault(layout, []).append(line)
        summary = ", ".join(f"{name} {len(lines)}" for name, lines in families.items())
        print(f"compiled kernel grid: {len(grid)} configs ({summary})")
        for name, lines in families.items():
            print(f"  [{name}]")
            for line in lines:
                print(f"    {line.split(' ', 1)[1] if ' ' in line else line}")
        wgrad = fp8gemm.wgrad_kernel_grid().splitlines()
        print(f"weight-gradient (1D1D) grid: {len(wgrad)} configs")
        for line in wgrad:
            print(f"    {line.split(' ', 1)[1] if ' ' in line else line}")
    if count == 0:
        print("GPU supported: no (no CUDA GPU visible)")
    else:
        cap = torch.cuda.get_device_capability()
        if cap != (9, 0):
            print(f"GPU supported: no (sm_{cap[0]}{cap[1]}; the kernels are built for sm_90a: H100, H200, H20, H800)")
        elif not loaded:
            print("GPU supported: no (the native library did not load, see above)")
        else:
            print("GPU supported: yes")
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
