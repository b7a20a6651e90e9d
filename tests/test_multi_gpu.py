"""Two GPUs in one process: every op alternated between cuda:0 and cuda:1, with different
shapes, from two threads at once, each result checked against the float64 reference.

Per-device state (SM counts, the shared-memory opt-in of each kernel, tensor maps, the
config cache) must be keyed by device; a cache keyed per process returns garbage here.
Skipped with a reason unless two sm_90 GPUs are visible.
"""

from __future__ import annotations

import threading
from typing import Callable

import pytest
import torch

from gpu_utils import hopper_skip_reason

import fp8gemm
from fp8gemm.testing import (
    calc_diff,
    contiguous_m_indices,
    random_fp8_activations,
    random_fp8_problem,
    random_fp8_weights,
    reference_gemm_nt,
)


def _two_gpu_skip_reason() -> str | None:
    reason = hopper_skip_reason()
    if reason is not None:
        return reason
    if torch.cuda.device_count() < 2:
        return f"needs two GPUs, {torch.cuda.device_count()} visible"
    if torch.cuda.get_device_capability(1) != (9, 0):
        return f"cuda:1 is {torch.cuda.get_device_name(1)}, not sm_90"
    return None


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(_two_gpu_skip_reason() is not None,
                                                  reason=_two_gpu_skip_reason() or "")]

MAX_DIFF = 1e-5
Check = Callable[[str, int], list[tuple[str, torch.Tensor, torch.Tensor]]]


def _dense(dev: str, step: int) -> list:
    m, n, k = [(129, 2112, 576), (64, 7168, 1024), (300, 256, 7168), (1, 4096, 512)][step % 4]
    p = random_fp8_problem(m, n, k, dev, seed=step)
    args = (p["a"], p["sa"], p["b"], p["sb"])
    ref = reference_gemm_nt(*args)
    start = torch.randn(m, n, device=dev)
    acc = start.clone()
    fp8gemm.gemm_nt_out(*args, acc, accumulate=True)
    return [
        ("gemm_nt bf16", fp8gemm.gemm_nt(*args), ref),
        ("gemm_nt fp32", fp8gemm.gemm_nt(*args, out_dtype=torch.float32), ref),
        ("gemm_nt_out accumulate", acc, ref + start.double()),
    ]


def _grouped(dev: str, step: int) -> list:
    g, n, k = [(4, 2112, 576), (3, 4096, 1024), (6, 256, 384)][step % 3]
    b, sb = random_fp8_weights(g, n, k, dev, seed=100 + step)
    checks = []
    # contiguous
    sizes = [[128, 1, 300, 0, 5, 129][i % 6] for i in range(step, step + g)]
    idx = contiguous_m_indices(sizes, device=dev)
    a, sa = random_fp8_activations((idx.numel(), k), dev, seed=200 + step)
    out = fp8gemm.m_grouped_gemm_nt_contiguous(a, sa, b, sb, idx)
    start = 0
    for gi, s in enumerate(sizes):
        r = slice(start, start + s)
        if s:
            checks.append((f"contiguous group {gi}", out[r], reference_gemm_nt(a[r], sa[r], b[gi], sb[gi])))
        start += -(-s // 128) * 128
    # masked
    mmax = 40 + step
    counts = [(step * 7 + 11 * i) % (mmax + 1) for i in range(g)]
    a3, sa3 = random_fp8_activations((g, mmax, k), dev, seed=300 + step)
    out3 = torch.zeros(g, mmax, n, dtype=torch.bfloat16, device=dev)
    fp8gemm.m_grouped_gemm_nt_masked_out(a3, sa3, b, sb, torch.tensor(counts, dtype=torch.int32, device=dev), out3)
    for gi, c in enumerate(counts):
        if c:
            checks.append((f"masked group {gi}", out3[gi, :c],
                           reference_gemm_nt(a3[gi, :c], sa3[gi, :c], b[gi], sb[gi])))
    # offset
    bounds = [0]
    for i in range(g):
        bounds.append(bounds[-1] + [3, 0, 64, 17, 1][(i + step) % 5])
    a2, sa2 = random_fp8_activations((bounds[-1], k), dev, seed=400 + step)
    out2 = fp8gemm.m_grouped_gemm_nt_offset(a2, sa2, b, sb, torch.tensor(bounds, dtype=torch.int64, device=dev), 8)
    for gi in range(g):
        r = slice(bounds[gi], bounds[gi + 1])
        if r.stop > r.start:
            checks.append((f"offset group {gi}", out2[r], reference_gemm_nt(a2[r], sa2[r], b[gi], sb[gi])))
    return checks


def _worker(tid: int, steps: int, errors: list[str]) -> None:
    try:
        # Thread 1 leaves the current device at cuda:1, thread 0 at cuda:0: every op must
        # follow its tensors' device, not the thread's current one.
        torch.cuda.set_device(tid)
        for step in range(steps):
            dev = f"cuda:{(step + tid) % 2}"
            for family in (_dense, _grouped):
                for name, out, ref in family(dev, step * 2 + tid):
                    torch.cuda.synchronize(dev)
                    assert out.device == torch.device(dev), f"{name}: result on {out.device}, inputs on {dev}"
                    if torch.isnan(out).any():
                        errors.append(f"thread {tid} step {step} {dev} {name}: NaN")
                        continue
                    diff = calc_diff(out, ref)
                    if not diff < MAX_DIFF:
                        errors.append(f"thread {tid} step {step} {dev} {name}: calc_diff {diff:.3e}")
    except Exception as exc:  # reported by the main thread
        errors.append(f"thread {tid}: {type(exc).__name__}: {exc}")


def test_two_gpus_two_threads_every_op() -> None:
    errors: list[str] = []
    threads = [threading.Thread(target=_worker, args=(tid, 6, errors)) for tid in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "\n".join(errors[:20])


def test_num_sms_limit_applies_per_device() -> None:
    """A limit below both devices' SM counts: configs change, results stay right on both."""
    fp8gemm.set_num_sms(60)
    try:
        for dev in ("cuda:0", "cuda:1", "cuda:0"):
            for name, out, ref in _dense(dev, 3):
                torch.cuda.synchronize(dev)
                assert calc_diff(out, ref) < MAX_DIFF, (dev, name)
    finally:
        fp8gemm.set_num_sms(None)
