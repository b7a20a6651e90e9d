"""The weight-gradient ops' surface without a GPU: schemas, Python wrappers, fake kernels,
fullgraph export, config selection, and every argument rule (through the fake kernels
here; natively, before any launch, on an sm_90 GPU)."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import fp8gemm
from fp8gemm import _native
from gpu_utils import hopper_skip_reason
from mutations import put

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

FP8 = torch.float8_e4m3fn
_T = "Tensor a, Tensor sa, Tensor b, Tensor sb"
SCHEMAS = {
    "wgrad_gemm_nt": f"fp8gemm::wgrad_gemm_nt({_T}) -> Tensor",
    "wgrad_gemm_nt_out": f"fp8gemm::wgrad_gemm_nt_out({_T}, Tensor(a!) out) -> ()",
    "k_grouped_wgrad_gemm_nt": f"fp8gemm::k_grouped_wgrad_gemm_nt({_T}, Tensor ks) -> Tensor",
    "k_grouped_wgrad_gemm_nt_out": f"fp8gemm::k_grouped_wgrad_gemm_nt_out({_T}, Tensor ks, Tensor(a!) out) -> ()",
}


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema(name):
    assert str(getattr(torch.ops.fp8gemm, name).default._schema) == SCHEMAS[name]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_python_wrapper_exists(name):
    fn = getattr(fp8gemm, name)
    assert fn.__doc__ and name in fp8gemm.__all__


def _dense(m, n, k, dev="cuda"):
    kb = (k + 127) // 128
    col = fp8gemm.get_col_major_tma_aligned_tensor
    return (torch.empty(m, k, dtype=FP8, device=dev), col(torch.empty(m, kb, device=dev)),
            torch.empty(n, k, dtype=FP8, device=dev), col(torch.empty(n, kb, device=dev)))


def _kgrouped(m, n, ks, dev="cuda"):
    total, rows = sum(ks), sum((k + 127) // 128 for k in ks)
    return (torch.empty(m * total, dtype=FP8, device=dev), torch.empty(rows, m, device=dev),
            torch.empty(n * total, dtype=FP8, device=dev), torch.empty(rows, n, device=dev),
            torch.empty(len(ks), dtype=torch.int32, device=dev))


@pytest.mark.parametrize("m,n,k", [(0, 128, 128), (1, 7168, 4096), (133, 2112, 1008), (7168, 4096, 147456)])
def test_fake_dense(m, n, k):
    with FakeTensorMode():
        a, sa, b, sb = _dense(m, n, k)
        out = fp8gemm.wgrad_gemm_nt(a, sa, b, sb)
        assert out.shape == (m, n) and out.dtype == torch.float32 and out.device.type == "cuda"
        assert fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out) is None


@pytest.mark.parametrize("m,n,ks", [(2048, 768, [4096] * 128), (64, 136, [0, 16, 1008, 128]), (8, 8, [0])])
def test_fake_k_grouped(m, n, ks):
    with FakeTensorMode():
        a, sa, b, sb, ks_t = _kgrouped(m, n, ks)
        out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, ks_t)
        assert out.shape == (len(ks), m, n) and out.dtype == torch.float32
        assert fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks_t, out) is None


def test_fake_k_grouped_list_ks():
    with FakeTensorMode(allow_non_fake_inputs=True):
        a, sa, b, sb, _ = _kgrouped(64, 128, [256, 0, 144])
        out = fp8gemm.k_grouped_wgrad_gemm_nt(a, sa, b, sb, [256, 0, 144])
        assert out.shape == (3, 64, 128)


def _export_targets(f, *args):
    gm, _ = torch._dynamo.export(f)(*args)
    return [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]


def test_dynamo_export_each_op_is_one_graph():
    with FakeTensorMode():
        a, sa, b, sb = _dense(256, 512, 1024)
        ka, ksa, kb, ksb, ks = _kgrouped(128, 256, [512, 0, 144])
        out = torch.empty(256, 512, device="cuda")
        out3 = torch.empty(3, 128, 256, device="cuda")

        def dense_out(a, sa, b, sb, out):
            fp8gemm.wgrad_gemm_nt_out(a, sa, b, sb, out)
            return out

        def kg_out(a, sa, b, sb, ks, out):
            fp8gemm.k_grouped_wgrad_gemm_nt_out(a, sa, b, sb, ks, out)
            return out

        cases = [
            (lambda *x: fp8gemm.wgrad_gemm_nt(*x).sum(), (a, sa, b, sb), "wgrad_gemm_nt"),
            (dense_out, (a, sa, b, sb, out), "wgrad_gemm_nt_out"),
            (lambda *x: fp8gemm.k_grouped_wgrad_gemm_nt(*x).sum(), (ka, ksa, kb, ksb, ks), "k_grouped_wgrad_gemm_nt"),
            (kg_out, (ka, ksa, kb, ksb, ks, out3), "k_grouped_wgrad_gemm_nt_out"),
        ]
        for f, args, name in cases:
            targets = _export_targets(f, *args)
            assert any(f"fp8gemm.{name}." in t for t in targets), (name, targets)


@pytest.mark.parametrize("m,n,k", [(7168, 2112, 4096), (1536, 24576, 8192), (512, 1024, 147456), (1, 7168, 4096),
                                   (133, 2112, 4096), (16384, 7168, 8192)])
def test_select_config_wgrad(m, n, k):
    cfg = fp8gemm.select_config("wgrad_gemm_nt", m, n, k)
    assert cfg["block_m"] in (64, 128) and cfg["block_n"] in (96, 128), cfg
    assert cfg["smem_bytes"] <= 232448 and 1 <= cfg["grid"] <= 132 and cfg["grid"] % cfg["cluster"] == 0
    if cfg["multicast"] == "a":
        assert (-(-n // cfg["block_n"])) % 2 == 0
    if cfg["multicast"] == "b":
        assert (-(-m // cfg["block_m"])) % 2 == 0
    assert fp8gemm.select_config("wgrad_gemm_nt_out", m, n, k) == cfg


@pytest.mark.parametrize("g,m,n,k", [(128, 2048, 768, 4096), (4, 7168, 4096, 8192), (8, 2048, 7168, 4096)])
def test_select_config_k_grouped(g, m, n, k):
    cfg = fp8gemm.select_config("k_grouped_wgrad_gemm_nt", m, n, k, num_groups=g)
    assert cfg["block_m"] in (64, 128) and 1 <= cfg["grid"] <= 132
    with pytest.raises(ValueError, match="num_groups=1"):
        fp8gemm.select_config("wgrad_gemm_nt", m, n, k, num_groups=g)


def test_wgrad_kernel_grid_lists_both_layouts():
    grid = fp8gemm.wgrad_kernel_grid()
    assert "layout=dense" in grid and "layout=k_grouped" in grid and "out=fp32" in grid


# ---------------------------------------------------------------- bad inputs
M, N, K = 96, 136, 384
KS = [256, 0, 128]
KB = 3


def valid(dev):
    a, sa, b, sb = _dense(M, N, K, dev)
    ka, ksa, kb, ksb, ks = _kgrouped(M, N, KS, dev)
    return dict(a=a, sa=sa, b=b, sb=sb, out=torch.zeros(M, N, device=dev),
                ka=ka, ksa=ksa, kb=kb, ksb=ksb, ks=ks, out3=torch.zeros(len(KS), M, N, device=dev))


OPS = {
    "wgrad_gemm_nt": lambda x: fp8gemm.wgrad_gemm_nt(x["a"], x["sa"], x["b"], x["sb"]),
    "wgrad_gemm_nt_out": lambda x: fp8gemm.wgrad_gemm_nt_out(x["a"], x["sa"], x["b"], x["sb"], x["out"]),
    "k_grouped_wgrad_gemm_nt": lambda x: fp8gemm.k_grouped_wgrad_gemm_nt(x["ka"], x["ksa"], x["kb"], x["ksb"], x["ks"]),
    "k_grouped_wgrad_gemm_nt_out": lambda x: fp8gemm.k_grouped_wgrad_gemm_nt_out(
        x["ka"], x["ksa"], x["kb"], x["ksb"], x["ks"], x["out3"]),
}
DENSE = ("wgrad_gemm_nt", "wgrad_gemm_nt_out")
KG = ("k_grouped_wgrad_gemm_nt", "k_grouped_wgrad_gemm_nt_out")



CASES = [
    # dense
    ("a_dtype", put(a=lambda x, d: x["a"].to(torch.bfloat16)), DENSE, "a must be float8_e4m3fn, got bfloat16"),
    ("a_rank", put(a=lambda x, d: x["a"].view(1, M, K)), DENSE, "a must be 2-D [rows, K], got 3-D"),
    ("a_on_cpu", put(a=lambda x, d: torch.zeros(M, K, dtype=FP8)), DENSE, "a must be a CUDA tensor"),
    ("k_not_16", put(a=lambda x, d: torch.zeros(M, 120, dtype=FP8, device=d)[:, :104]), DENSE,
     "K must be a multiple of 16"),
    ("a_k_strided", put(a=lambda x, d: torch.zeros(K, M, dtype=FP8, device=d).t()), DENSE,
     "a must be contiguous along K"),
    ("b_k_mismatch", put(b=lambda x, d: torch.zeros(N, 256, dtype=FP8, device=d)), DENSE,
     "b must be [N, K] with the K of a (384)"),
    ("n_not_8", put(b=lambda x, d: torch.zeros(132, K, dtype=FP8, device=d)), DENSE, "N must be a multiple of 8"),
    ("sa_shape", put(sa=lambda x, d: torch.ones(M, 2, device=d)), DENSE,
     "sa must have shape [M, ceil(K/128)] = [96, 3], got [96, 2]"),
    ("sa_dtype", put(sa=lambda x, d: x["sa"].double()), DENSE, "sa must be float32, got float64"),
    ("sb_128x128", put(sb=lambda x, d: torch.ones(2, KB, device=d)), DENSE,
     "sb must have shape [N, ceil(K/128)] = [136, 3], got [2, 3]"),
    ("sb_on_cpu", put(sb=lambda x, d: torch.ones(N, KB)), DENSE, "sb must be a CUDA tensor"),
    ("out_bf16", put(out=lambda x, d: torch.zeros(M, N, dtype=torch.bfloat16, device=d)), ("wgrad_gemm_nt_out",),
     "out must be float32, got bfloat16"),
    ("out_shape", put(out=lambda x, d: torch.zeros(M, N + 8, device=d)), ("wgrad_gemm_nt_out",),
     "out must have shape [M, N] = [96, 136], got [96, 144]"),
    ("out_noncontig", put(out=lambda x, d: torch.zeros(N, M, device=d).t()), ("wgrad_gemm_nt_out",),
     "out must be contiguous"),
    # k-grouped
    ("ka_rank", put(ka=lambda x, d: x["ka"].view(M, -1)), KG, "a must be 1-D (the groups' row-major [M, K_g] blocks"),
    ("kb_dtype", put(kb=lambda x, d: x["kb"].view(torch.uint8)), KG, "b must be float8_e4m3fn, got another dtype"),
    ("ka_strided", put(ka=lambda x, d: torch.zeros(2 * M * 384, dtype=FP8, device=d)[::2]), KG,
     "a must be contiguous"),
    ("ka_numel", put(ka=lambda x, d: torch.zeros(M * 384 + 16, dtype=FP8, device=d)), KG,
     "a must hold M * sum(ks) elements, a multiple of M = 96"),
    ("kb_numel", put(kb=lambda x, d: torch.zeros(N * 400, dtype=FP8, device=d)), KG,
     "b must hold N * sum(ks) = 136 * 384 = 52224 elements"),
    ("ksa_rank", put(ksa=lambda x, d: torch.ones(3, M, 1, device=d)), KG, "sa must be 2-D [sum_g ceil(K_g/128), M]"),
    ("ksa_dtype", put(ksa=lambda x, d: x["ksa"].half()), KG, "sa must be float32, got float16"),
    ("ksb_rows", put(ksb=lambda x, d: torch.ones(4, N, device=d)), KG,
     "sb must have shape [sum_g ceil(K_g/128), N] with the rows of sa (3), got [4, 136]"),
    ("ksa_rows", put(ksa=lambda x, d: torch.ones(30, M, device=d), ksb=lambda x, d: torch.ones(30, N, device=d)), KG,
     "sa must have sum_g ceil(K_g/128) rows, between ceil(sum(ks)/128) = 3 and sum(ks)/16 = 24"),
    ("kn_not_8", put(ksb=lambda x, d: torch.ones(3, 132, device=d), kb=lambda x, d: torch.zeros(132 * 384, dtype=FP8, device=d)),
     KG, "N must be a multiple of 8, got N = sb.size(1) = 132"),
    ("ks_dtype", put(ks=lambda x, d: x["ks"].long()), KG, "ks must be int32, got int64"),
    ("ks_rank", put(ks=lambda x, d: x["ks"].view(1, 3)), KG, "ks must be 1-D [G], got 2-D"),
    ("ks_on_cpu", put(ks=lambda x, d: torch.zeros(3, dtype=torch.int32)), KG, "ks must be a CUDA tensor"),
    ("ks_strided", put(ks=lambda x, d: torch.zeros(6, dtype=torch.int32, device=d)[::2]), KG, "ks must be contiguous"),
    ("too_many_groups", put(ks=lambda x, d: torch.zeros(1025, dtype=torch.int32, device=d)), KG,
     "at most 1024 groups are supported, got G = 1025"),
    ("ks_list_not_16", put(ks=lambda x, d: [256, 8, 120]), KG,
     "every K_g must be a non-negative multiple of 16, got ks[1] = 8"),
    ("ks_list_negative", put(ks=lambda x, d: [400, -16, 0]), KG, "got ks[1] = -16"),
    ("ks_list_sum", put(ks=lambda x, d: [256, 0, 256]), KG, "a must hold M * sum(ks) = 96 * 512 = 49152 elements"),
    ("ks_list_rows", put(ks=lambda x, d: [192, 192, 0]), KG, "sa must have sum_g ceil(K_g/128) = 4 rows"),
    ("k_out_dtype", put(out3=lambda x, d: torch.zeros(3, M, N, dtype=torch.bfloat16, device=d)),
     ("k_grouped_wgrad_gemm_nt_out",), "out must be float32, got bfloat16"),
    ("k_out_shape", put(out3=lambda x, d: torch.zeros(2, M, N, device=d)), ("k_grouped_wgrad_gemm_nt_out",),
     "out must have shape [G, M, N] = [3, 96, 136], got [2, 96, 136]"),
]

PAIRS = [(c, op) for c in CASES for op in c[2]]


def _run(case, op, dev):
    return OPS[op](case[1](valid(dev), dev))


@pytest.mark.parametrize("case,op", PAIRS, ids=[f"{c[0]}-{op}" for c, op in PAIRS])
def test_refused_at_trace_time(case, op):
    with FakeTensorMode(allow_non_fake_inputs=True):
        with pytest.raises((ValueError, RuntimeError, TypeError)) as info:
            _run(case, op, "cuda")
    assert case[3] in str(info.value)
    assert f"fp8gemm.{op}:" in str(info.value)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
@pytest.mark.parametrize("case,op", PAIRS, ids=[f"{c[0]}-{op}" for c, op in PAIRS])
def test_refused_before_launch(case, op):
    with pytest.raises((ValueError, RuntimeError, TypeError)) as info:
        _run(case, op, "cuda")
    torch.cuda.synchronize()
    assert case[3] in str(info.value)
    assert f"fp8gemm.{op}:" in str(info.value)


@pytest.mark.skipif(hopper_skip_reason() is not None, reason=hopper_skip_reason() or "")
def test_out_overlapping_an_input_is_refused():
    x = valid("cuda")
    storage = torch.zeros(M * N + M * KB + 64, device="cuda")
    x["out"] = storage[: M * N].view(M, N)
    x["sa"] = storage[M * N - 32 : M * N - 32 + M * KB].view(KB, M).t()
    with pytest.raises(ValueError, match="out must not overlap sa"):
        OPS["wgrad_gemm_nt_out"](x)
