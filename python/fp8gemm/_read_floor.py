"""The benchmarks' bandwidth floor: one streaming read of a buffer, as fast as we can make it.

Imported only by the benchmarks (Triton is not a dependency of the library; without it they
fall back to `torch.sum`). A persistent grid-stride kernel: CTAS_PER_SM CTAs per SM, each
loading BLOCK floats per step with evict-first loads and keeping a running sum (so the loads
are not dead code), one float written per CTA. Constants from scripts/read_floor_sweep.py
(benchmarks/NOTES.md #44).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import triton
import triton.language as tl

# NOTES: the fastest variant of scripts/read_floor_sweep.py over the decode byte counts on
# an H100 (15-117 MB: 1.0-1.5% from the best variant of each size, 0.65-0.83x torch.sum's
# time; benchmarks/NOTES.md #44). At 939 MB it reads 5% slower than a flat grid.
BLOCK = 2048
CTAS_PER_SM = 8
NUM_WARPS = 8


@triton.jit
def _read_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(pid * BLOCK, n, tl.num_programs(0) * BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + offs, mask=offs < n, other=0.0, eviction_policy="evict_first")
    tl.store(out_ptr + pid, tl.sum(acc, axis=0))


def triton_read(buf: torch.Tensor) -> Callable[[], Any]:
    """A closure that reads every float of `buf` (contiguous float32 on a CUDA device) once."""
    numel = buf.numel()
    sms = torch.cuda.get_device_properties(buf.device).multi_processor_count
    grid = max(1, min(CTAS_PER_SM * sms, triton.cdiv(numel, BLOCK)))
    out = torch.empty(grid, dtype=torch.float32, device=buf.device)
    return lambda: _read_kernel[(grid,)](buf, out, numel, BLOCK=BLOCK, num_warps=NUM_WARPS)
