"""Programmatic dependent launch (fp8gemm.set_pdl): results unchanged when kernels overlap
their predecessor's tail, eagerly and in a captured CUDA graph."""

from __future__ import annotations

import pytest
import torch

from gpu_utils import requires_hopper, row_major_twin_compiled, sa_relayouts, warm_up_outside_capture

import fp8gemm
from fp8gemm.testing import (
    calc_diff,
    random_fp8_activations,
    random_fp8_problem,
    random_fp8_weights,
    reference_gemm_nt,
    row_major_sa,
)

pytestmark = [pytest.mark.gpu, requires_hopper]


@pytest.fixture
def pdl_on():
    fp8gemm.set_pdl(True)
    assert fp8gemm.get_pdl()
    yield
    fp8gemm.set_pdl(False)


def _args(p):
    return p["a"], p["sa"], p["b"], p["sb"]


# Activation scales canonical, or row-major (read in place by the row-major twins, whose
# scale ring has barriers of its own).
SA_LAYOUTS = pytest.mark.parametrize("sa_row_major", [False, True], ids=["sa_canonical", "sa_row_major"])


@SA_LAYOUTS
def test_accumulate_chain_eager(pdl_on, sa_row_major: bool) -> None:
    """Each call reads the previous call's output (out += product): with the wait missing the
    kernels would race on out."""
    p = random_fp8_problem(256, 2112, 7168, seed=1)
    ref = reference_gemm_nt(*_args(p))
    if sa_row_major:
        p["sa"] = row_major_sa(p["sa"])
    start = torch.randn(256, 2112, device="cuda")
    out = start.clone()
    before = sa_relayouts()
    for _ in range(8):
        fp8gemm.gemm_nt_out(*_args(p), out, accumulate=True)
    torch.cuda.synchronize()
    cfg = fp8gemm.select_config("gemm_nt", 256, 2112, 7168, out_dtype=torch.float32)
    if sa_row_major and row_major_twin_compiled(cfg, "dense", "fp32"):
        assert sa_relayouts() == before, "row-major scales were copied: the twin did not run"
    assert calc_diff(out, start.double() + 8 * ref) < 1e-5


@SA_LAYOUTS
def test_decode_loop_graph_replay(pdl_on, sa_row_major: bool) -> None:
    """A captured decode step (dense accumulate chain, then a masked grouped GEMM that reads
    nothing of it, then one that overwrites its output) replayed with new data."""
    m, n, k, g = 64, 1024, 2048, 4
    p = random_fp8_problem(m, n, k, seed=2)
    b, sb = random_fp8_weights(g, n, k, seed=3)
    a3, sa3 = random_fp8_activations((g, 16, k), seed=4)
    if sa_row_major:
        p["sa"], sa3 = row_major_sa(p["sa"]), row_major_sa(sa3)
    masked_m = torch.tensor([16, 3, 0, 9], dtype=torch.int32, device="cuda")
    acc = torch.zeros(m, n, device="cuda")
    out3 = torch.zeros(g, 16, n, dtype=torch.bfloat16, device="cuda")

    def step():
        acc.zero_()
        for _ in range(3):
            fp8gemm.gemm_nt_out(*_args(p), acc, accumulate=True)
        fp8gemm.m_grouped_gemm_nt_masked_out(a3, sa3, b, sb, masked_m, out3, 8)
        fp8gemm.m_grouped_gemm_nt_masked_out(a3, sa3, b, sb, masked_m, out3, 8)

    warm_up_outside_capture(step)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        step()
    for it in range(3):
        fresh = random_fp8_problem(m, n, k, seed=10 + it)
        for dst, src in zip(_args(p), _args(fresh)):
            dst.copy_(src)
        new_a3, new_sa3 = random_fp8_activations((g, 16, k), seed=20 + it)
        a3.copy_(new_a3)
        sa3.copy_(new_sa3)
        graph.replay()
        torch.cuda.synchronize()
        assert calc_diff(acc, 3 * reference_gemm_nt(*_args(p))) < 1e-5
        for i, c in enumerate((16, 3, 0, 9)):
            if c:
                assert calc_diff(out3[i, :c], reference_gemm_nt(a3[i, :c], sa3[i, :c], b[i], sb[i])) < 1e-5


def test_set_pdl_rejects_non_bool() -> None:
    with pytest.raises(TypeError, match="set_pdl"):
        fp8gemm.set_pdl("yes")  # type: ignore[arg-type]
