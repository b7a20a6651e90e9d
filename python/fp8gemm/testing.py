"""Helpers shared by the tests and the benchmarks: error metric, float64 reference,
random problems and timing."""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any, Callable, Iterator

import torch

from .quant import (
    dequantize_128x128,
    dequantize_1x128,
    k_grouped_cast_to_fp8,
    per_block_cast_to_fp8,
    per_token_cast_to_fp8,
)
from .utils import ceil_div

__all__ = [
    "calc_diff",
    "reference_gemm_nt",
    "reference_k_grouped_wgrad",
    "k_grouped_operands",
    "random_wgrad_operand",
    "random_fp8_problem",
    "random_fp8_activations",
    "random_fp8_weights",
    "contiguous_m_indices",
    "row_major_sa",
    "bench_kernel",
    "host_cost_us",
    "forced_swapab",
    "random_k_grouped_wgrad_problem",
]

L2_FLUSH_BYTES = 256 * 1024 * 1024
_flush_buffers: dict[torch.device, torch.Tensor] = {}


def calc_diff(x: torch.Tensor, y: torch.Tensor) -> float:
    """Global similarity error ``1 - 2 * sum(x * y) / sum(x * x + y * y)`` in float64.

    0 for identical tensors (also when both are all zero), 1 for orthogonal ones,
    2 for ``y == -x``. Insensitive to where the error sits, sensitive to its energy.
    """
    if x.shape != y.shape:
        raise ValueError(f"calc_diff: x and y must have the same shape, got {list(x.shape)} and {list(y.shape)}")
    x, y = x.double(), y.double()
    denominator = (x * x + y * y).sum()
    if denominator.item() == 0.0:
        return 0.0
    return float(1.0 - 2.0 * (x * y).sum() / denominator)


def reference_gemm_nt(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> torch.Tensor:
    """Float64 ``dequant(a, sa) @ dequant(b, sb).T`` on the inputs' device.

    ``sa`` is 1x128 (``[..., M, Kb]``). ``sb`` is 128x128 when its shape is
    ``[..., ceil(N/128), Kb]`` and 1x128 when it is ``[..., N, Kb]`` (the two
    agree when N == 1). Any strides are accepted.
    """
    n, k = b.shape[-2], b.shape[-1]
    if a.shape[-1] != k:
        raise ValueError(f"reference_gemm_nt: a and b must share K, got a {list(a.shape)} and b {list(b.shape)}")
    a_deq = dequantize_1x128(a, sa)
    kb = ceil_div(k, 128)
    if tuple(sb.shape) == (*b.shape[:-2], ceil_div(n, 128), kb):
        b_deq = dequantize_128x128(b, sb)
    elif tuple(sb.shape) == (*b.shape[:-2], n, kb):
        b_deq = dequantize_1x128(b, sb)
    else:
        raise ValueError(
            f"reference_gemm_nt: sb must have shape [..., ceil(N/128), Kb] = [{ceil_div(n, 128)}, {kb}] "
            f"(128x128) or [..., N, Kb] = [{n}, {kb}] (1x128), got {list(sb.shape)}"
        )
    return a_deq @ b_deq.transpose(-1, -2)


def reference_k_grouped_wgrad(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, ks: "list[int] | torch.Tensor"
) -> torch.Tensor:
    """Float64 ``[G, M, N]``: for each group g, ``dequant(A_g) @ dequant(B_g).T`` with the
    k-grouped layout of ``fp8gemm.k_grouped_wgrad_gemm_nt`` (a, b flat; sa ``[sum Kb, M]``,
    sb ``[sum Kb, N]``); zeros for empty groups."""
    ks = [int(v) for v in (ks.tolist() if isinstance(ks, torch.Tensor) else ks)]
    out = torch.zeros(len(ks), sa.shape[1], sb.shape[1], dtype=torch.float64, device=a.device)
    for g, group in enumerate(k_grouped_operands(a, sa, b, sb, ks)):
        if group is not None:
            out[g] = reference_gemm_nt(*group)
    return out


def k_grouped_operands(
    a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, ks: "list[int]"
) -> "list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None]":
    """Each group's dense operands ``(a_g [M, K_g], sa_g [M, Kb_g], b_g [N, K_g], sb_g [N, Kb_g])``
    (views) of the k-grouped layout of ``fp8gemm.k_grouped_wgrad_gemm_nt``; None for an empty group."""
    m, n = sa.shape[1], sb.shape[1]
    groups: "list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None]" = []
    off = kb_off = 0
    for k in ks:
        kb = ceil_div(k, 128)
        if k:
            a_g = a[m * off : m * (off + k)].view(m, k)
            b_g = b[n * off : n * (off + k)].view(n, k)
            groups.append((a_g, sa[kb_off : kb_off + kb].t(), b_g, sb[kb_off : kb_off + kb].t()))
        else:
            groups.append(None)
        off += k
        kb_off += kb
    return groups


def random_wgrad_operand(rows: int, k: int, device: str | torch.device = "cuda", seed: int | None = None,
                         dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """A random weight-gradient operand ``[rows, K]`` (K: tokens) before quantization:
    Gaussian with a log-normal magnitude per token (column) and per row, as activations
    and their gradients look."""
    device = torch.device(device)
    gen = _generator(device, seed)
    token_mag = torch.exp(0.5 * torch.randn(1, k, generator=gen, device=device))
    row_mag = torch.exp(0.25 * torch.randn(rows, 1, generator=gen, device=device))
    return (torch.randn(rows, k, generator=gen, device=device) * token_mag * row_mag).to(dtype)


def random_k_grouped_wgrad_problem(
    m: int, n: int, ks: "list[int]", device: str | torch.device = "cuda", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random operands ``(a, sa, b, sb)`` of ``fp8gemm.k_grouped_wgrad_gemm_nt`` with group
    sizes ``ks``: group g's ``[M, K_g]`` and ``[N, K_g]`` from :func:`random_wgrad_operand`
    (seeds ``seed + 2g`` and ``seed + 2g + 1``), quantized by ``k_grouped_cast_to_fp8``."""
    a, sa = k_grouped_cast_to_fp8([random_wgrad_operand(m, k, device, seed + 2 * g) for g, k in enumerate(ks)])
    b, sb = k_grouped_cast_to_fp8([random_wgrad_operand(n, k, device, seed + 2 * g + 1) for g, k in enumerate(ks)])
    return a, sa, b, sb


def _generator(device: torch.device, seed: int | None) -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


def random_fp8_problem(
    m: int,
    n: int,
    k: int,
    device: str | torch.device = "cuda",
    seed: int | None = None,
    b_scales: str = "128x128",
) -> dict[str, torch.Tensor]:
    """Fresh random FP8 operands for ``gemm_nt`` with a realistic spread of magnitudes.

    Activations are Gaussian times a log-normal per-row magnitude and a few
    outlier channels; weights are Gaussian times a log-normal per-row magnitude.

    Args:
        m, n, k: problem size (``k % 16 == 0``).
        device: where the tensors are created.
        seed: makes the data reproducible; ``None`` draws a fresh seed.
        b_scales: ``"128x128"`` (sb ``[ceil(N/128), Kb]``) or ``"1x128"`` (sb canonical ``[N, Kb]``).

    Returns:
        dict with ``a`` ``[M, K]`` fp8, ``sa`` ``[M, Kb]`` canonical, ``b`` ``[N, K]`` fp8, ``sb``.
    """
    if b_scales not in ("128x128", "1x128"):
        raise ValueError(f"random_fp8_problem: b_scales must be '128x128' or '1x128', got {b_scales!r}")
    device = torch.device(device)
    gen = _generator(device, seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, device=device, dtype=torch.float32)

    row_mag = torch.exp(0.5 * randn(m, 1))
    channel_mag = torch.where(torch.rand(1, k, generator=gen, device=device) < 0.01, 8.0, 1.0)
    x = (randn(m, k) * row_mag * channel_mag).to(torch.bfloat16)
    w = (randn(n, k) * torch.exp(0.25 * randn(n, 1)) * 0.05).to(torch.bfloat16)
    a, sa = per_token_cast_to_fp8(x)
    if b_scales == "128x128":
        b, sb = per_block_cast_to_fp8(w)
    else:
        b, sb = per_token_cast_to_fp8(w)
    return {"a": a, "sa": sa, "b": b, "sb": sb}


def random_fp8_activations(
    shape: tuple[int, ...], device: str | torch.device = "cuda", seed: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random activations ``[..., M, K]`` quantized 1x128: ``(a, sa)`` with ``sa`` canonical.

    Gaussian rows times a log-normal per-row magnitude, as in :func:`random_fp8_problem`.
    """
    device = torch.device(device)
    gen = _generator(device, seed)
    rows = torch.exp(0.5 * torch.randn(*shape[:-1], 1, generator=gen, device=device))
    x = (torch.randn(*shape, generator=gen, device=device) * rows).to(torch.bfloat16)
    return per_token_cast_to_fp8(x)


def random_fp8_weights(
    g: int, n: int, k: int, device: str | torch.device = "cuda", seed: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random grouped weights ``[G, N, K]`` quantized 128x128: ``(b, sb)``, ``sb`` ``[G, ceil(N/128), Kb]``.

    Made one group at a time, so the float intermediates stay the size of one group (256
    experts of 4096 x 7168 are 7.5 GB in fp8).
    """
    device = torch.device(device)
    gen = _generator(device, seed)
    b = torch.empty(g, n, k, dtype=torch.float8_e4m3fn, device=device)
    sb = torch.empty(g, ceil_div(n, 128), ceil_div(k, 128), dtype=torch.float32, device=device)
    for i in range(g):
        w = torch.randn(n, k, generator=gen, device=device) * torch.exp(
            0.25 * torch.randn(n, 1, generator=gen, device=device)
        ) * 0.05
        b[i], sb[i] = per_block_cast_to_fp8(w.to(torch.bfloat16))
    return b, sb


def contiguous_m_indices(sizes: list[int], alignment: int = 128, device: str | torch.device = "cuda") -> torch.Tensor:
    """``m_indices`` of the contiguous grouped layout for groups of ``sizes`` rows: each
    group padded to a multiple of ``alignment`` rows, padding rows marked -1."""
    parts = []
    for g, size in enumerate(sizes):
        padded = ceil_div(size, alignment) * alignment
        part = torch.full((padded,), -1, dtype=torch.int32)
        part[:size] = g
        parts.append(part)
    flat = torch.cat(parts) if parts else torch.empty(0, dtype=torch.int32)
    return flat.to(device)


def row_major_sa(sa: torch.Tensor, row_stride: int | None = None) -> torch.Tensor:
    """The same `[M, Kb]` (or `[G, Mmax, Kb]`) scales as a row-major view whose rows are
    `row_stride` floats apart (default: Kb rounded up to 4, 16-byte-aligned rows, what the
    kernels read in place; groups evenly spaced); the padding between rows is NaN, so a
    kernel that reads it fails loudly."""
    kb = sa.shape[-1]
    stride = -(-kb // 4) * 4 if row_stride is None else row_stride
    if stride < kb:
        raise ValueError(f"row_major_sa: row_stride must be >= Kb = {kb}, got {stride}")
    buf = torch.full((*sa.shape[:-1], stride), float("nan"), dtype=sa.dtype, device=sa.device)
    buf[..., :kb] = sa
    return buf[..., :kb]


def _flush_buffer(device: torch.device) -> torch.Tensor:
    buf = _flush_buffers.get(device)
    if buf is None:
        buf = torch.empty(L2_FLUSH_BYTES, dtype=torch.int8, device=device)
        _flush_buffers[device] = buf
    return buf


def bench_kernel(
    fn: Callable[[], Any],
    *,
    warmup: int = 5,
    rep: int = 30,
    flush_l2: bool = True,
) -> dict[str, Any]:
    """Time ``fn`` on the current CUDA stream with CUDA events.

    Before every timed call a 256 MB buffer is overwritten so that the kernel
    starts with a cold L2 (the write itself is outside the timed interval).

    Returns:
        dict with ``median_us``, ``min_us``, ``mean_us``, ``max_us``, ``rep`` and
        ``times_us`` (every sample, in call order).
    """
    if rep < 1:
        raise ValueError(f"bench_kernel: rep must be >= 1, got {rep}")
    device = torch.device("cuda", torch.cuda.current_device())
    buf = _flush_buffer(device) if flush_l2 else None
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()

    starts = [torch.cuda.Event(enable_timing=True) for _ in range(rep)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(rep)]
    for i in range(rep):
        if buf is not None:
            buf.zero_()
        starts[i].record()
        fn()
        ends[i].record()
    torch.cuda.synchronize()
    times = [s.elapsed_time(e) * 1e3 for s, e in zip(starts, ends)]
    return {
        "median_us": statistics.median(times),
        "min_us": min(times),
        "mean_us": statistics.fmean(times),
        "max_us": max(times),
        "rep": rep,
        "times_us": times,
    }


def host_cost_us(fn: Callable[[], Any], n: int = 100, sleep_cycles: int = 400_000_000) -> float:
    """CPU microseconds per call of ``fn``, measured while the GPU is kept busy.

    A long sleep kernel is enqueued first, so that launches only queue up and the
    loop measures the host path (argument checks, dispatch, launch), not the GPU.

    Args:
        fn: the call to measure (it should enqueue GPU work only).
        n: number of timed calls; keep it well below the launch queue depth (~1000).
        sleep_cycles: length of the sleep kernel in GPU clock cycles (400M is
            about 0.2 s on an H100).
    """
    if n < 1:
        raise ValueError(f"host_cost_us: n must be >= 1, got {n}")
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    torch.cuda._sleep(sleep_cycles)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    elapsed = time.perf_counter() - t0
    torch.cuda.synchronize()
    return elapsed / n * 1e6


@contextlib.contextmanager
def forced_swapab(index: int = -1, split: int = 0, swap_ab: bool = True) -> Iterator[None]:
    """For the duration of a with-block: dense, masked and offset calls go to swap-AB config
    `index` of `swapab_kernel_grid()` with K split `split` (the library's testing hook; -1 and
    0 leave the heuristic's choice), and `set_swap_ab(swap_ab)`. Restores both on exit."""
    from . import _native, set_swap_ab

    lib = _native.lib()
    lib.fp8gemm_force_swapab(index, split)
    set_swap_ab(swap_ab)
    try:
        yield
    finally:
        lib.fp8gemm_force_swapab(-1, 0)
        set_swap_ab(True)
