"""Op surface checks that need no GPU: registrations, schemas, fake kernels, fullgraph
tracing and config selection. They run on CI against the built library."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import fp8gemm
from fp8gemm import _native

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

SCHEMAS = {
    "gemm_nt": "fp8gemm::gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, ScalarType? out_dtype=None) -> Tensor",
    "gemm_nt_out": "fp8gemm::gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor(a!) out, "
    "bool accumulate=False) -> ()",
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema(name):
    assert str(getattr(torch.ops.fp8gemm, name).default._schema) == SCHEMAS[name]


def _dense(m, n, k):
    kb = (k + 127) // 128
    a = torch.empty(m, k, dtype=torch.float8_e4m3fn, device="cuda")
    sa = fp8gemm.get_col_major_tma_aligned_tensor(torch.empty(m, kb, device="cuda"))
    b = torch.empty(n, k, dtype=torch.float8_e4m3fn, device="cuda")
    sb = torch.empty((n + 127) // 128, kb, device="cuda")
    return a, sa, b, sb


@pytest.mark.parametrize("m,n,k", [(0, 16, 16), (1, 136, 112), (4096, 7168, 16384), (129, 2112, 576)])
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_fake_gemm_nt(m, n, k, out_dtype):
    with FakeTensorMode():
        out = fp8gemm.gemm_nt(*_dense(m, n, k), out_dtype=out_dtype)
        assert out.shape == (m, n) and out.dtype == out_dtype and out.device.type == "cuda"


def test_fake_gemm_nt_out():
    with FakeTensorMode():
        a, sa, b, sb = _dense(100, 256, 256)
        out = torch.empty(100, 256, device="cuda", dtype=torch.float32)
        assert fp8gemm.gemm_nt_out(a, sa, b, sb, out, accumulate=True) is None


def test_dynamo_export_is_one_graph():
    def f(a, sa, b, sb):
        return fp8gemm.gemm_nt(a, sa, b, sb).float().sum()

    with FakeTensorMode():
        gm, _ = torch._dynamo.export(f)(*_dense(100, 256, 256))
    targets = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert torch.ops.fp8gemm.gemm_nt.default in targets or torch.ops.fp8gemm.gemm_nt in targets


def test_dynamo_export_out_variant():
    def f(a, sa, b, sb, out):
        fp8gemm.gemm_nt_out(a, sa, b, sb, out, accumulate=True)
        return out

    with FakeTensorMode():
        a, sa, b, sb = _dense(64, 128, 128)
        out = torch.empty(64, 128, device="cuda")
        gm, _ = torch._dynamo.export(f)(a, sa, b, sb, out)
    assert any("gemm_nt_out" in str(n.target) for n in gm.graph.nodes)


SWEEP = [(m, n, k) for m in (1, 64, 65, 128, 1000, 4096, 16384) for n, k in
         [(16, 16), (136, 112), (2112, 7168), (7168, 16384), (32768, 512), (24576, 1536)]]


@pytest.mark.parametrize("m,n,k", SWEEP)
@pytest.mark.parametrize("num_sms", [132, 114, 78, 1])
def test_select_config_fits(m, n, k, num_sms):
    cfg = fp8gemm.select_config("gemm_nt", m, n, k, num_sms=num_sms)
    assert cfg["smem_bytes"] <= 232448, cfg  # sm_90 opt-in limit
    if cfg["swap_ab"]:
        return  # the swap-AB decode configs: tests/test_swapab_cpu.py
    assert cfg["block_k"] == 128 and cfg["block_m"] in (64, 128, 256) and cfg["block_n"] % 16 == 0
    assert 1 <= cfg["grid"] <= num_sms and cfg["grid"] % cfg["cluster"] == 0
    blocks_m = -(-m // cfg["block_m"])
    blocks_n = -(-n // cfg["block_n"])
    if cfg["multicast"] == "a":
        assert blocks_n % 2 == 0
    if cfg["multicast"] == "b":
        assert blocks_m % 2 == 0
    if cfg["stream_k"]:
        # every SM gets a CTA; only where the last round of tiles is partial, and only for
        # the deferred loop's tiles without a cluster (sm90_fp8_gemm_1d2d.cuh)
        assert cfg["grid"] == num_sms and (blocks_m * blocks_n) % num_sms != 0
        assert cfg["multicast"] == "none" and cfg["block_m"] in (64, 128) and cfg["block_n"] <= 128
    else:
        assert cfg["grid"] <= blocks_m * blocks_n



def test_select_config_reports_the_compiled_grid():
    grid = fp8gemm.kernel_grid()
    cfg = fp8gemm.select_config("gemm_nt", 4096, 7168, 16384)
    needle = f"block_m={cfg['block_m']} block_n={cfg['block_n']} stages={cfg['stages']} multicast={cfg['multicast']}"
    assert needle in grid


def test_select_config_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        fp8gemm.select_config("gemm_tn", 128, 128, 128)


def test_set_num_sms_roundtrip():
    fp8gemm.set_num_sms(100)
    try:
        assert _native.lib().fp8gemm_get_num_sms_limit() == 100
    finally:
        fp8gemm.set_num_sms(None)
    assert _native.lib().fp8gemm_get_num_sms_limit() == 0
    with pytest.raises(ValueError, match="set_num_sms"):
        fp8gemm.set_num_sms(-3)
