"""GPU tests of the weight-gradient ops (wgrad_gemm_nt, k_grouped_wgrad_gemm_nt, and _out)
against the float64 reference on the dequantized inputs.

Accumulation is checked two ways: against `out0 + reference` (calc_diff < 1e-5), and
bitwise against `out0 + functional result` in fp32 (the `_out` op must compute exactly
`out + product`: out read once, added once, written once). Results of functional ops come
from an allocator poisoned with NaN first, so an element left unwritten fails.
Argument checks are in test_wgrad_cpu.py (fake kernels, any machine) and run natively here.
"""

from __future__ import annotations

import random

import pytest
import torch

from gpu_utils import assert_schema_respected, requires_hopper

import fp8gemm
from fp8gemm import _native
from fp8gemm.quant import k_grouped_cast_to_fp8, per_token_cast_to_fp8
from fp8gemm.testing import (
    calc_diff,
    k_grouped_operands,
    random_wgrad_operand,
    reference_gemm_nt,
    reference_k_grouped_wgrad,
)
from fp8gemm.utils import ceil_div

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5


def _poison_allocator(numel: int) -> None:
    """Leave a freed NaN block of `numel` floats in the caching allocator, so that the next
    allocation of that size most likely reuses it."""
    torch.full((numel,), float("nan"), device="cuda")
    torch.cuda.synchronize()


def _check(out: torch.Tensor, ref: torch.Tensor, what: str) -> None:
    assert not torch.isnan(out).any(), f"{what}: NaN in the result (an element not written?)"
    diff = calc_diff(out, ref)
    assert diff < MAX_DIFF, f"{what}: calc_diff = {diff:.3e}"


def _dense(m: int, n: int, k: int, seed: int):
    a, sa = per_token_cast_to_fp8(random_wgrad_operand(m, k, seed=seed))
    b, sb = per_token_cast_to_fp8(random_wgrad_operand(n, k, seed=seed + 1))
    return a, sa, b, sb


# ---------------------------------------------------------------- dense

DENSE_SHAPES = [
    # shapes that crashed or failed in other libraries
    (512, 1024, 147456),
    (1536, 256, 2048),
    (1, 7168, 4096),
    (133, 2112, 4096),
    # partial blocks everywhere, K below one block and not a multiple of 128
    (7, 136, 576),
    (129, 264, 112),
    (1000, 520, 1008),
    (64, 128, 16),
    # large
    (4096, 7168, 4096),
]


@pytest.mark.parametrize("m,n,k", DENSE_SHAPES, ids=lambda v: str(v))
def test_wgrad_dense(m: int, n: int, k: int) -> None:
    a, sa, b, sb = _dense(m, n, k, seed=m + n + k)
    ref = reference_gemm_nt(a, sa, b, sb)
    _poison_allocator(m * n)
    prod = fp8gemm.wgrad_gemm_nt(a, sa, b, sb)
    assert prod.shape == (m, n) and prod.dtype == torch.float32
    _check(prod, ref, "wgrad_gemm_nt")
    # Accumulate into a non-zero gradient buffer.
    out0 = torch.randn(m, n, device="cuda") * ref.abs().mean().float()
    out = out0.clone()
    assert fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out) is None
    _check(out, out0.double() + ref, "wgrad_gemm_nt_out")
    assert torch.equal(out, out0 + prod), "out is not exactly out0 + product in fp32"
    # A second accumulation adds the product again.
    fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
    _check(out, out0.double() + 2 * ref, "wgrad_gemm_nt_out twice")


def test_wgrad_every_config() -> None:
    """Every compiled dense config (forced) on a shape with partial tiles on every side."""
    m, n, k = 300, 392, 1040
    a, sa, b, sb = _dense(m, n, k, seed=11)
    ref = reference_gemm_nt(a, sa, b, sb)
    lines = fp8gemm.wgrad_kernel_grid().splitlines()
    idx = [i for i, line in enumerate(lines) if "layout=dense" in line]
    assert idx
    try:
        for i in idx:
            _native.lib().fp8gemm_force_wgrad_kernel(i)
            out0 = torch.randn(m, n, device="cuda")
            out = out0.clone()
            fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
            _check(out, out0.double() + ref, lines[i])
    finally:
        _native.lib().fp8gemm_force_wgrad_kernel(-1)


def test_wgrad_noncanonical_scales() -> None:
    m, n, k = 130, 256, 640
    a, sa, b, sb = _dense(m, n, k, seed=3)
    ref = reference_gemm_nt(a, sa, b, sb)
    _check(fp8gemm.wgrad_gemm_nt(a, sa.contiguous(), b, sb.contiguous()), ref, "row-major scales")


def test_wgrad_m_zero() -> None:
    a, sa, b, sb = _dense(64, 128, 256, seed=5)
    assert fp8gemm.wgrad_gemm_nt(a[:0], sa[:0], b, sb).shape == (0, 128)
    fp8gemm.wgrad_gemm_nt_out(a[:0], sa[:0], b, sb, torch.empty(0, 128, device="cuda"))
    torch.cuda.synchronize()


# ---------------------------------------------------------------- k-grouped


def _k_grouped(m: int, n: int, ks: list[int], seed: int):
    xa = [random_wgrad_operand(m, k, seed=seed + 2 * g) for g, k in enumerate(ks)]
    xb = [random_wgrad_operand(n, k, seed=seed + 2 * g + 1) for g, k in enumerate(ks)]
    a, sa = k_grouped_cast_to_fp8(xa)
    b, sb = k_grouped_cast_to_fp8(xb)
    return a, sa, b, sb


def _check_groups(out: torch.Tensor, out0: torch.Tensor | None, a, sa, b, sb, ks: list[int], groups, what: str) -> None:
    """Groups `groups` of out against out0 + reference, one group at a time."""
    m, n = sa.shape[1], sb.shape[1]
    offs = [0]
    kb_offs = [0]
    for k in ks:
        offs.append(offs[-1] + k)
        kb_offs.append(kb_offs[-1] + ceil_div(k, 128))
    assert not torch.isnan(out).any(), f"{what}: NaN in the result"
    for g in groups:
        k = ks[g]
        base = out0[g].double() if out0 is not None else torch.zeros(m, n, dtype=torch.float64, device="cuda")
        if k == 0:
            assert torch.equal(out[g], base.float()), f"{what}: empty group {g} changed"
            continue
        a_g = a[m * offs[g] : m * offs[g + 1]].view(m, k)
        b_g = b[n * offs[g] : n * offs[g + 1]].view(n, k)
        ref = reference_gemm_nt(a_g, sa[kb_offs[g] : kb_offs[g + 1]].t(), b_g, sb[kb_offs[g] : kb_offs[g + 1]].t())
        _check(out[g], base + ref, f"{what}: group {g} (K_g = {k})")


K_GROUPED_CASES = [
    # (G, M, N, ks or a pool to draw from, seed)
    (128, 2048, 768, [4096] * 128, 1),
    (128, 768, 1536, [4096] * 128, 2),
    (16, 256, 512, (0, 16, 128, 1008, 4096), 3),
    (37, 130, 264, (0, 16, 128, 1008, 4096), 4),
    (4, 7168, 4096, [4096, 8192, 0, 2048], 5),
    (1, 133, 2112, [4096], 6),
]


@pytest.mark.parametrize("g,m,n,pool,seed", K_GROUPED_CASES, ids=lambda v: str(v) if not isinstance(v, list) else f"ks{len(set(v))}")
@pytest.mark.parametrize("ks_as", ["tensor", "list"])
def test_k_grouped(g: int, m: int, n: int, pool, seed: int, ks_as: str) -> None:
    if isinstance(pool, tuple):
        rnd = random.Random(seed)
        ks = [rnd.choice(pool) for _ in range(g)]
    else:
        ks = list(pool)
    a, sa, b, sb = _k_grouped(m, n, ks, seed)
    ks_arg = torch.tensor(ks, dtype=torch.int32, device="cuda") if ks_as == "tensor" else ks
    # The big cases check a sample of groups against float64 (every group is still checked
    # for NaN and, through the bitwise accumulate check, for consistency).
    groups = list(range(g)) if g <= 40 else sorted(set(range(0, g, 9)) | {g - 1})
    _poison_allocator(g * m * n)
    prod = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks_arg)
    assert prod.shape == (g, m, n) and prod.dtype == torch.float32
    _check_groups(prod, None, a, sa, b, sb, ks, groups, "k_grouped_wgrad_gemm_nt")
    out0 = torch.randn(g, m, n, device="cuda")
    out = out0.clone()
    assert fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks_arg, out) is None
    assert torch.equal(out, out0 + prod), "out is not exactly out0 + product in fp32"
    _check_groups(out, out0, a, sa, b, sb, ks, groups[:4], "k_grouped_wgrad_gemm_nt_out")


def test_k_grouped_matches_dense_per_group() -> None:
    """Each group's result is bitwise the dense op's on that group's operands."""
    m, n, ks = 256, 384, [1024, 1008, 0, 128, 16]
    a, sa, b, sb = _k_grouped(m, n, ks, 7)
    out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks)
    for g, group in enumerate(k_grouped_operands(a, sa, b, sb, ks)):
        if group is not None:
            assert torch.equal(out[g], fp8gemm.wgrad_gemm_nt(*group)), f"group {g}"
        else:
            assert (out[g] == 0).all()


def test_k_grouped_every_config() -> None:
    m, n, ks = 200, 264, [0, 1008, 16, 2048, 128, 0, 400]
    ks[-1] = 400  # 400 = 25 * 16: partial block
    a, sa, b, sb = _k_grouped(m, n, ks, 8)
    lines = fp8gemm.wgrad_kernel_grid().splitlines()
    idx = [i for i, line in enumerate(lines) if "layout=k_grouped" in line]
    assert idx
    try:
        for i in idx:
            _native.lib().fp8gemm_force_wgrad_kernel(i)
            out0 = torch.randn(len(ks), m, n, device="cuda")
            out = out0.clone()
            fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, out)
            _check_groups(out, out0, a, sa, b, sb, ks, range(len(ks)), lines[i])
    finally:
        _native.lib().fp8gemm_force_wgrad_kernel(-1)


def test_k_grouped_allocates_only_the_result() -> None:
    """The tensor maps rebuilt on the device live in the kernel's own pool: the functional
    op allocates its result and nothing else, and `_out` allocates nothing."""
    m, n, ks = 256, 384, [1024, 0, 512]
    a, sa, b, sb = _k_grouped(m, n, ks, 10)
    ks_t = torch.tensor(ks, dtype=torch.int32, device="cuda")
    out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks_t)  # warm-up (loads the kernel)
    torch.cuda.synchronize()

    def allocations() -> int:
        return torch.cuda.memory_stats()["allocation.all.allocated"]

    before = allocations()
    fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks_t, out)
    assert allocations() == before, "k_grouped_wgrad_gemm_nt_out allocated"
    res = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks_t)
    assert allocations() == before + 1, "k_grouped_wgrad_gemm_nt allocated more than its result"
    _check_groups(res, None, a, sa, b, sb, ks, range(3), "k_grouped_wgrad_gemm_nt")


def test_k_grouped_concurrent_streams() -> None:
    """Launches in flight together on several streams (different groups, sizes and K per
    launch) each get their own tensor-map pool entries: every result is right."""
    cases = [(256, 384, [1024, 0, 512], 11), (128, 264, [16, 2048, 128, 400], 12),
             (384, 256, [4096, 1008], 13), (200, 520, [512] * 6, 14)]
    inputs = [(_k_grouped(m, n, ks, seed), ks) for m, n, ks, seed in cases]
    streams = [torch.cuda.Stream() for _ in cases]
    torch.cuda.synchronize()
    outs = [None] * len(cases)
    for _ in range(3):
        for i, ((a, sa, b, sb), ks) in enumerate(inputs):
            with torch.cuda.stream(streams[i]):
                outs[i] = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks)
    torch.cuda.synchronize()
    for i, ((a, sa, b, sb), ks) in enumerate(inputs):
        _check_groups(outs[i], None, a, sa, b, sb, ks, range(len(ks)), f"stream {i}")


def test_k_grouped_garbage_ks_never_faults() -> None:
    """ks values the host never sees: negative, not multiples of 16, far too large. The
    kernel clamps them: the call completes, and the next call is right."""
    m, n, ks = 128, 256, [512, 256, 1024]
    a, sa, b, sb = _k_grouped(m, n, ks, 9)
    for bad in ([-4096, 2**31 - 1, 1000], [2**30, 2**30, 2**30], [-1, -1, -1], [7, 4096 * 16, 33]):
        out = torch.zeros(3, m, n, device="cuda")
        fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, torch.tensor(bad, dtype=torch.int32, device="cuda"), out)
        torch.cuda.synchronize()
    out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, torch.tensor(ks, dtype=torch.int32, device="cuda"))
    _check_groups(out, None, a, sa, b, sb, ks, range(3), "after garbage ks")


def test_k_grouped_cuda_graph_ks_changes_between_replays() -> None:
    """One captured _out call; between replays the group sizes (ks, on the device), the
    operands and the accumulator change: every replay must see them."""
    g, m, n, total, rows = 4, 256, 384, 2048, 2048 // 128 + 4
    splits = [[512, 0, 1024, 512], [208, 1008, 16, 816], [0, 0, 2048, 0], [2048, 0, 0, 0]]
    a_buf = torch.zeros(m * total, dtype=torch.float8_e4m3fn, device="cuda")
    b_buf = torch.zeros(n * total, dtype=torch.float8_e4m3fn, device="cuda")
    sa_buf = torch.zeros(rows, m, device="cuda")
    sb_buf = torch.zeros(rows, n, device="cuda")
    ks = torch.tensor(splits[0], dtype=torch.int32, device="cuda")
    out = torch.zeros(g, m, n, device="cuda")
    fp8gemm.k_grouped_wgrad_gemm_nt_out(a_buf, sa_buf, b_buf, sb_buf, ks, out)  # warm up outside capture
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.k_grouped_wgrad_gemm_nt_out(a_buf, sa_buf, b_buf, sb_buf, ks, out)
    for i, split in enumerate(splits):
        a, sa, b, sb = _k_grouped(m, n, split, 100 + i)
        a_buf.copy_(a)
        b_buf.copy_(b)
        sa_buf.zero_()
        sb_buf.zero_()
        sa_buf[: sa.shape[0]] = sa
        sb_buf[: sb.shape[0]] = sb
        ks.copy_(torch.tensor(split, dtype=torch.int32))
        out0 = torch.randn(g, m, n, device="cuda")
        out.copy_(out0)
        graph.replay()
        torch.cuda.synchronize()
        _check_groups(out, out0, a, sa, b, sb, split, range(g), f"replay {i} ks={split}")


def test_dense_cuda_graph_replay() -> None:
    m, n, k = 256, 512, 1024
    a, sa, b, sb = _dense(m, n, k, seed=21)
    out = torch.zeros(m, n, device="cuda")
    fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
    a2, sa2, b2, sb2 = _dense(m, n, k, seed=22)
    a.copy_(a2)
    sa.copy_(sa2)
    b.copy_(b2)
    sb.copy_(sb2)
    out.zero_()
    graph.replay()
    graph.replay()
    torch.cuda.synchronize()
    _check(out, 2 * reference_gemm_nt(a2, sa2, b2, sb2), "two replays")


# ---------------------------------------------------------------- compile, opcheck


def test_torch_compile_fullgraph_k_grouped_tensor_ks() -> None:
    torch._dynamo.reset()

    def step(xa, xb, ks, out):
        # quantization inside the graph, then the accumulating k-grouped GEMM
        a, sa = per_token_cast_to_fp8(xa)
        b, sb = per_token_cast_to_fp8(xb)
        fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out[0])
        return out

    def kgrouped(a, sa, b, sb, ks, out):
        fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, out)
        return fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks)

    m, n, ks = 128, 256, [256, 0, 1008]
    a, sa, b, sb = _k_grouped(m, n, ks, 31)
    ks_t = torch.tensor(ks, dtype=torch.int32, device="cuda")
    out0 = torch.randn(3, m, n, device="cuda")
    out = out0.clone()
    prod = torch.compile(kgrouped, fullgraph=True)(a, sa, b, sb, ks_t, out)
    _check_groups(prod, None, a, sa, b, sb, ks, range(3), "compiled functional")
    _check_groups(out, out0, a, sa, b, sb, ks, range(3), "compiled _out")

    xa = random_wgrad_operand(m, 640, seed=1)
    xb = random_wgrad_operand(n, 640, seed=2)
    acc0 = torch.randn(1, m, n, device="cuda")
    acc = torch.compile(step, fullgraph=True)(xa, xb, ks_t, acc0.clone())
    qa, qsa = per_token_cast_to_fp8(xa)
    qb, qsb = per_token_cast_to_fp8(xb)
    _check(acc[0], acc0[0].double() + reference_gemm_nt(qa, qsa, qb, qsb), "compiled dense with quantization")


def test_torch_compile_fullgraph_list_ks() -> None:
    torch._dynamo.reset()
    m, n, ks = 64, 128, [128, 16]
    a, sa, b, sb = _k_grouped(m, n, ks, 41)
    f = torch.compile(lambda a, sa, b, sb: fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, [128, 16]), fullgraph=True)
    _check_groups(f(a, sa, b, sb), None, a, sa, b, sb, ks, range(2), "compiled with list ks")


OPCHECK_UTILS = ("test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


def test_opcheck_wgrad() -> None:
    a, sa, b, sb = _dense(129, 264, 576, seed=51)
    op = torch.ops.fp8gemm.wgrad_gemm_nt.default
    torch.library.opcheck(op, (a, sa, b, sb), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (a, sa, b, sb))
    op = torch.ops.fp8gemm.wgrad_gemm_nt_out.default
    out = torch.randn(129, 264, device="cuda")
    torch.library.opcheck(op, (a, sa, b, sb, out), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (a, sa, b, sb, out), mutated=(4,))


def test_opcheck_k_grouped_wgrad() -> None:
    ks = [256, 0, 144]
    a, sa, b, sb = _k_grouped(72, 136, ks, 52)
    ks_t = torch.tensor(ks, dtype=torch.int32, device="cuda")
    op = torch.ops.fp8gemm.k_grouped_wgrad_gemm_nt.default
    torch.library.opcheck(op, (a, sa, b, sb, ks_t), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (a, sa, b, sb, ks_t))
    op = torch.ops.fp8gemm.k_grouped_wgrad_gemm_nt_out.default
    out = torch.randn(3, 72, 136, device="cuda")
    torch.library.opcheck(op, (a, sa, b, sb, ks_t, out), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (a, sa, b, sb, ks_t, out), mutated=(5,))


def test_reference_helper_matches_per_group() -> None:
    """reference_k_grouped_wgrad (used by the benchmark) against the per-group reference."""
    ks = [128, 0, 208]
    a, sa, b, sb = _k_grouped(40, 64, ks, 61)
    ref = reference_k_grouped_wgrad(a, sa, b, sb, ks)
    out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks)
    assert calc_diff(out, ref) < MAX_DIFF and (ref[1] == 0).all()
