"""Which streaming-read kernel makes the fastest bandwidth floor (issue 4 asks for the
fastest floor: a slow one flatters every ratio)? Times torch.sum and Triton grid-stride
reads (BLOCK floats per step, CTAs per SM, warps) on the decode-size byte counts, after
the benchmark's L2 flush, round-robin. Usage: python3 scripts/read_floor_sweep.py"""
from __future__ import annotations

import statistics

import torch
import triton
import triton.language as tl

from fp8gemm._bench_dense import _time_round_robin
from fp8gemm._read_floor import _read_kernel as _read  # the benchmark's grid-stride read


@triton.jit
def _read_flat(x_ptr, out_ptr, n, BLOCK: tl.constexpr, ITERS: tl.constexpr):
    pid = tl.program_id(0)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    base = pid * BLOCK * ITERS
    for i in tl.static_range(ITERS):
        offs = base + i * BLOCK + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr + pid, tl.sum(acc, axis=0))


def main() -> None:
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    sizes = [2112 * 7168, 4096 * 7168, 7168 * 2048, 24576 * 1536, 7168 * 16384, 32 * 4096 * 7168]
    out = torch.empty(1 << 20, device="cuda")
    rows = []
    for nbytes in sizes:
        numel = nbytes // 4
        buf = torch.ones(numel, device="cuda")
        cands = {"torch_sum": lambda buf=buf: buf.sum()}
        for block in (1024, 2048, 4096):
            for per_sm in (2, 4, 8):
                for warps in (4, 8):
                    grid = min(per_sm * sms, triton.cdiv(numel, block))
                    cands[f"gs_b{block}_c{per_sm}_w{warps}"] = (
                        lambda buf=buf, grid=grid, block=block, warps=warps, numel=numel:
                        _read[(grid,)](buf, out, numel, BLOCK=block, num_warps=warps))
        for block, iters in ((1024, 4), (2048, 2), (2048, 4), (4096, 1)):
            grid = triton.cdiv(numel, block * iters)
            if grid <= out.numel():
                cands[f"flat_b{block}_i{iters}"] = (
                    lambda buf=buf, grid=grid, block=block, iters=iters, numel=numel:
                    _read_flat[(grid,)](buf, out, numel, BLOCK=block, ITERS=iters, num_warps=4))
        for fn in cands.values():
            fn()
        torch.cuda.synchronize()
        times = _time_round_robin(cands, 3, 10, 3)
        med = {k: v["median_us"] for k, v in times.items()}
        best = min(med, key=med.get)
        print(f"{nbytes / 1e6:8.1f} MB  torch.sum {med['torch_sum']:7.1f} us  best {best} {med[best]:7.1f} us "
              f"({nbytes / med[best] / 1e3:6.0f} GB/s)")
        top = sorted(med.items(), key=lambda kv: kv[1])[:6]
        print("          " + "  ".join(f"{k} {v:.1f}" for k, v in top))
        rows.append(med)
    # one variant for every size: the smallest geomean of time / best
    names = rows[0].keys()
    score = {k: statistics.geometric_mean([r[k] / min(r.values()) for r in rows]) for k in names}
    for k, v in sorted(score.items(), key=lambda kv: kv[1])[:5]:
        print(f"overall {k}: {v:.3f} of the per-size best")


if __name__ == "__main__":
    main()
