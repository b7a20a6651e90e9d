"""Skip helpers for tests that need an sm_90 GPU and the native library."""

from __future__ import annotations

import functools
import os

import pytest
import torch


@functools.lru_cache(maxsize=None)
def hopper_skip_reason() -> str | None:
    """Why the GPU tests cannot run here, or None when they can."""
    if not torch.cuda.is_available():
        return "needs a CUDA GPU; torch.cuda.is_available() is False"
    cap = torch.cuda.get_device_capability()
    if cap != (9, 0):
        name = torch.cuda.get_device_name()
        return f"needs an sm_90 (Hopper) GPU, got {name} (sm_{cap[0]}{cap[1]})"
    try:
        import fp8gemm  # noqa: F401
    except Exception as exc:  # any import failure means: nothing to test
        return f"fp8gemm failed to import: {type(exc).__name__}: {exc}"
    try:
        torch.ops.fp8gemm.gemm_nt.default
    except (AttributeError, RuntimeError) as exc:
        lib = getattr(fp8gemm, "_lib_path", None)
        return f"fp8gemm native library not loaded (torch.ops.fp8gemm.gemm_nt missing; _lib_path={lib}): {exc}"
    return None


def require_hopper() -> None:
    """Skip the calling test unless an sm_90 GPU and the native library are present."""
    reason = hopper_skip_reason()
    if reason is not None:
        pytest.skip(reason)


_REASON = hopper_skip_reason()
if _REASON is not None and os.environ.get("FP8GEMM_REQUIRE_HOPPER") == "1":
    # scripts/gpu_check.sh sets this: on the GPU machine a skip would hide a broken build.
    raise RuntimeError(f"FP8GEMM_REQUIRE_HOPPER=1 but the GPU tests cannot run: {_REASON}")

# Decorator / pytestmark form. The reason is computed at collection time.
requires_hopper = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def _bytes(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().view(torch.uint8) if t.element_size() == 1 else t.detach().clone()


def assert_schema_respected(op, args: tuple, mutated: tuple[int, ...] = ()) -> None:
    """Runs op(*args) and checks that only the arguments in `mutated` changed, none was
    re-allocated, and the result aliases no input (what opcheck's test_schema checks,
    which cannot compare fp8 tensors)."""
    tensors = {i: t for i, t in enumerate(args) if isinstance(t, torch.Tensor)}
    before = {i: (_bytes(t), t.stride(), t.untyped_storage().data_ptr()) for i, t in tensors.items()}
    result = op(*args)
    torch.cuda.synchronize()
    for i, t in tensors.items():
        data, stride, ptr = before[i]
        assert t.stride() == stride and t.untyped_storage().data_ptr() == ptr, f"argument {i} was re-allocated"
        if i not in mutated:
            assert torch.equal(_bytes(t), data), f"argument {i} was mutated but the schema does not say so"
    if isinstance(result, torch.Tensor):
        ptrs = {t.untyped_storage().data_ptr() for t in tensors.values()}
        assert result.untyped_storage().data_ptr() not in ptrs, "the result aliases an input"


# ---------------------------------------------------------------- activation-scale layouts


def sa_relayouts() -> int:
    """How many activation-scale relayout copies the library has made so far (process-wide)."""
    import ctypes

    from fp8gemm import _native

    lib = _native.lib()
    lib.fp8gemm_num_sa_relayouts.restype = ctypes.c_longlong
    return int(lib.fp8gemm_num_sa_relayouts())


def grid_fields(line: str) -> dict[str, str]:
    """The key=value fields of one `fp8gemm.kernel_grid()` line (`sa` is "row" or absent)."""
    return dict(kv.split("=", 1) for kv in line.split()[1:])


def row_major_twin_compiled(cfg: dict, layout: str, out: str) -> bool:
    """Whether this build has the row-major-scale twin of the 1D2D config `cfg` (a
    `select_config` dict) for `layout` and output `out` ("bf16" | "fp32")."""
    import fp8gemm

    want = {"layout": layout, "block_m": str(cfg["block_m"]), "block_n": str(cfg["block_n"]),
            "multicast": cfg["multicast"], "out": out, "sa": "row"}
    return any(all(grid_fields(line).get(k) == v for k, v in want.items())
               for line in fp8gemm.kernel_grid().splitlines())


def expected_dense_row_major_copies(m: int, n: int, k: int, out_dtype: torch.dtype, sa: torch.Tensor) -> int:
    """Relayout copies gemm_nt makes for row-major [M, Kb] scales `sa` (csrc/gemm_nt.cpp): none
    when their rows are 16-byte aligned (and Kb >= 4) and the chosen kernel reads them in place:
    swap-AB at K >= 4096 or M <= 4 (csrc/swapab.cpp), else the 1D2D config's row-major twin
    where swap-AB does not serve the shape and the build has the twin; one copy otherwise."""
    import fp8gemm

    kb = -(-k // 128)
    if kb < 4 or (m > 1 and sa.stride(0) % 4 != 0) or sa.data_ptr() % 16 != 0:
        return 1
    cfg = fp8gemm.select_config("gemm_nt", m, n, k, out_dtype=out_dtype)
    if cfg["swap_ab"]:
        return 0 if (k >= 4096 or m <= 4) else 1
    out = "fp32" if out_dtype == torch.float32 else "bf16"
    return 0 if row_major_twin_compiled(cfg, "dense", out) else 1


def check_valid_rows(out: torch.Tensor, ref: torch.Tensor, what: str, poison: float, max_diff: float) -> None:
    """Rows that must have been written: no NaN, none left at the `poison` value the output
    was filled with, and calc_diff against the float64 reference below `max_diff`."""
    from fp8gemm.testing import calc_diff

    if out.numel() == 0:
        return
    assert not torch.isnan(out).any(), f"{what}: NaN in rows that must be valid"
    assert not (out == poison).any(), f"{what}: rows that must be written were not"
    diff = calc_diff(out, ref)
    assert diff < max_diff, f"{what}: calc_diff = {diff:.3e}"


def warm_up_outside_capture(fn) -> None:
    """Run fn once on a side stream (first-call work such as module loads must not land in a
    CUDA graph capture), ordered with the current stream on both sides."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)


def clamped_offset_bounds(offsets: list[int], m: int) -> list[int]:
    """The device's reading of an offset layout's `offsets`: each clamped into [0, M], then a
    running maximum (groups never overlap and never leave the rows)."""
    out, run = [], 0
    for v in offsets:
        run = max(run, min(max(v, 0), m))
        out.append(run)
    return out
