"""Loads the native library and exposes its host-only C API (ctypes).

The library holds every kernel and registers the `torch.ops.fp8gemm.*` ops when it is
loaded. It needs no GPU to load: schemas, fake kernels and config selection work on any
machine with a CUDA build of torch >= 2.10.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Optional

import torch

LIB_PATH = Path(__file__).with_name("_C.so")
load_error: Optional[str] = None
_cdll: Optional[ctypes.CDLL] = None


def _load() -> None:
    global load_error, _cdll
    if not LIB_PATH.exists():
        load_error = f"the native library {LIB_PATH} is missing (build fp8gemm first: see README)"
        return
    try:
        torch.ops.load_library(str(LIB_PATH))
        _cdll = ctypes.CDLL(str(LIB_PATH))  # the handle torch already holds
    except (OSError, RuntimeError) as e:  # pragma: no cover - depends on the environment
        load_error = f"could not load {LIB_PATH}: {e}"
        return
    _cdll.fp8gemm_select_config.restype = ctypes.c_int
    _cdll.fp8gemm_select_config.argtypes = [
        ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
        ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int),
    ]
    _cdll.fp8gemm_last_error.restype = ctypes.c_char_p
    _cdll.fp8gemm_set_num_sms.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_get_num_sms_limit.restype = ctypes.c_int
    _cdll.fp8gemm_kernel_grid.restype = ctypes.c_char_p
    _cdll.fp8gemm_force_kernel.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_num_kernels.restype = ctypes.c_int
    _cdll.fp8gemm_force_wgrad_kernel.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_num_wgrad_kernels.restype = ctypes.c_int
    _cdll.fp8gemm_wgrad_kernel_grid.restype = ctypes.c_char_p
    _cdll.fp8gemm_set_pdl.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_get_pdl.restype = ctypes.c_int
    _cdll.fp8gemm_set_batch_invariant.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_get_batch_invariant.restype = ctypes.c_int
    _cdll.fp8gemm_set_swap_ab.argtypes = [ctypes.c_int]
    _cdll.fp8gemm_get_swap_ab.restype = ctypes.c_int
    _cdll.fp8gemm_force_swapab.argtypes = [ctypes.c_int, ctypes.c_int]
    _cdll.fp8gemm_num_swapab_kernels.restype = ctypes.c_int
    _cdll.fp8gemm_swapab_grid.restype = ctypes.c_char_p
    _cdll.fp8gemm_cuda_versions.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    _cdll.fp8gemm_cubin_toolchain.restype = ctypes.c_char_p
    _cdll.fp8gemm_min_driver_cuda_version.restype = ctypes.c_int
    _cdll.fp8gemm_pretend_driver_version.argtypes = [ctypes.c_int]


_load()


def lib() -> ctypes.CDLL:
    """The loaded library, or a clear error saying why there is none."""
    if _cdll is None:
        raise RuntimeError(f"fp8gemm: {load_error}")
    return _cdll


def is_loaded() -> bool:
    return _cdll is not None


def _version_text(v: int) -> str:
    return f"{v // 1000}.{v % 1000 // 10}" if v > 0 else "none"


def cuda_versions() -> tuple[str, str]:
    """(CUDA runtime linked into the library, driver's CUDA version) as "13.0", or "none".
    The runtime is always "none": the kernels are loaded and launched through the driver API."""
    runtime, driver = ctypes.c_int(0), ctypes.c_int(0)
    lib().fp8gemm_cuda_versions(ctypes.byref(runtime), ctypes.byref(driver))
    return _version_text(runtime.value), _version_text(driver.value)


def cubin_toolchain() -> tuple[str, str]:
    """(the toolchain that assembled the embedded cubins, e.g. "cu12: PTX from nvcc 13.0.88,
    ptxas 12.9.86"; the oldest driver's CUDA version that loads them, e.g. "12.0")."""
    text = lib().fp8gemm_cubin_toolchain().decode()
    return text, _version_text(lib().fp8gemm_min_driver_cuda_version())


def driver_release() -> Optional[str]:
    """The NVIDIA kernel driver's release (e.g. "580.65.06"), when /proc tells it."""
    try:
        with open("/proc/driver/nvidia/version") as f:
            first = f.readline()
    except OSError:
        return None
    for word in first.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(p.isdigit() for p in parts):
            return word
    return None
