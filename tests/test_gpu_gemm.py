"""GPU tests of fp8gemm.gemm_nt / gemm_nt_out against the float64 reference.

Every test needs an sm_90 GPU and the native library; otherwise it is skipped with a reason.
Argument checks are in test_bad_inputs.py, config selection in test_ops_cpu.py.
"""

from __future__ import annotations

import pytest
import torch

from gpu_utils import assert_schema_respected, requires_hopper, warm_up_outside_capture
from shapes import GEMM_SHAPES, PROPERTY_SHAPES, shape_id

import fp8gemm
from fp8gemm.quant import per_block_cast_to_fp8, per_token_cast_to_fp8
from fp8gemm.testing import calc_diff, random_fp8_problem, reference_gemm_nt
from fp8gemm.utils import ceil_div, get_col_major_tma_aligned_tensor

pytestmark = [pytest.mark.gpu, requires_hopper]

MAX_DIFF = 1e-5  # SPEC.md: global metric against the float64 reference


def _problem(shape: tuple[int, int, int], salt: int = 0) -> dict[str, torch.Tensor]:
    m, n, k = shape
    return random_fp8_problem(m, n, k, "cuda", seed=(m * 1_000_003 + n * 1009 + k) * 7 + salt)


def _args(p: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return p["a"], p["sa"], p["b"], p["sb"]


def _clone(t: torch.Tensor) -> torch.Tensor:
    """A copy with the same strides (clone() makes padded layouts contiguous)."""
    return torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device).copy_(t)


def _check_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert not torch.isnan(out).any(), "output has NaN (an element was never written?)"
    diff = calc_diff(out, ref)
    assert diff < MAX_DIFF, f"calc_diff = {diff:.3e} >= {MAX_DIFF}"


def _replay_on_new_inputs(graph: torch.cuda.CUDAGraph, static_out: torch.Tensor, inputs: tuple[torch.Tensor, ...],
                          new: dict[str, torch.Tensor]) -> None:
    """Copies the problem `new` into the captured inputs, poisons the captured output, replays
    the graph and checks the output against the float64 reference on `new`."""
    for dst, src in zip(inputs, _args(new)):
        dst.copy_(src)
    static_out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    _check_close(static_out, reference_gemm_nt(*_args(new)))


# ---------------------------------------------------------------- correctness


@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=shape_id)
def test_gemm_nt_bf16(shape: tuple[int, int, int]) -> None:
    p = _problem(shape)
    out = fp8gemm.gemm_nt(*_args(p))
    m, n, _ = shape
    assert out.shape == (m, n) and out.dtype == torch.bfloat16 and out.is_contiguous()
    assert out.device == p["a"].device
    _check_close(out, reference_gemm_nt(*_args(p)))


def _dense_config_ids() -> list[tuple[int, str]]:
    try:
        lines = fp8gemm.kernel_grid().splitlines()
    except Exception:  # no native library: the GPU marks skip every test anyway
        return []
    # (the row-major-scale twins: test_gpu_row_major_sa.py)
    return [(i, line.split(" ", 1)[1]) for i, line in enumerate(lines) if "layout=dense" in line and "sa=row" not in line]


@pytest.mark.parametrize("config", _dense_config_ids(), ids=lambda c: c[1].replace(" ", ","))
def test_every_dense_config(config: tuple[int, str]) -> None:
    """Each compiled dense config, forced, on a shape partial in every dimension: 4 row
    blocks and 6 column blocks (even, so a cluster pair is legal along either), the last
    of each cut short; K not a multiple of 128. Output poisoned first."""
    from fp8gemm import _native

    idx, desc = config
    bm = int(desc.split("block_m=")[1].split()[0])
    bn = int(desc.split("block_n=")[1].split()[0])
    m, n = 3 * bm + 44, 6 * bn - 8
    p = _problem((m, n, 1040), salt=idx)
    out_dtype = torch.float32 if "out=fp32" in desc else torch.bfloat16
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device="cuda")
    _native.lib().fp8gemm_force_kernel(idx)
    try:
        fp8gemm.gemm_nt_out(*_args(p), out)
    finally:
        _native.lib().fp8gemm_force_kernel(-1)
    _check_close(out, reference_gemm_nt(*_args(p)))


# ---------------------------------------------------------------- stream-K


def _stream_k_config_ids() -> list[tuple[int, str]]:
    return [c for c in _dense_config_ids() if "stream_k=1" in c[1]]


def _tiles_shape(bm: int, bn: int, tiles_m: int, tiles_n: int, k: int) -> tuple[int, int, int]:
    """A shape of tiles_m x tiles_n tiles, the last row and column of tiles cut short."""
    return tiles_m * bm - 24, tiles_n * bn - 8, k


# (tiles along M, along N, K, SMs; 0: the device's): a round plus a sliver, plus most of a
# round (a CTA's range then spans the end of one tile and the start of the next), fewer
# tiles than SMs at long K (a tile split over several CTAs), exact rounds (no stream-K work
# on 132 SMs), 3 tiles on a 16-SM grid (set_num_sms), and one tile's 5 K blocks left over
# for 24 CTAs (most get no range).
_STREAM_K_CASES = [(12, 12, 2000, 0), (16, 16, 1040, 0), (4, 7, 7168, 0), (12, 11, 1024, 0), (3, 1, 4096, 16),
                   (5, 5, 640, 24)]


@pytest.mark.parametrize("case", _STREAM_K_CASES, ids=lambda c: "x".join(map(str, c)))
@pytest.mark.parametrize("config", _stream_k_config_ids(), ids=lambda c: c[1].replace(" ", ","))
def test_stream_k_configs(config: tuple[int, str], case: tuple[int, int, int, int]) -> None:
    """Each stream-K config, forced, where its last round is split by K over the grid: right
    against float64 with the output poisoned, and bitwise equal from call to call (the
    partial sums are added in a fixed order)."""
    from fp8gemm import _native

    idx, desc = config
    bm = int(desc.split("block_m=")[1].split()[0])
    bn = int(desc.split("block_n=")[1].split()[0])
    tiles_m, tiles_n, k, sms = case
    shape = _tiles_shape(bm, bn, tiles_m, tiles_n, k)
    p = _problem(shape, salt=idx)
    outs = []
    lib = _native.lib()
    if sms:
        fp8gemm.set_num_sms(sms)
    lib.fp8gemm_force_kernel(idx)
    try:
        for _ in range(2):
            out = torch.full(shape[:2], float("nan"), dtype=torch.bfloat16, device="cuda")
            fp8gemm.gemm_nt_out(*_args(p), out)
            outs.append(out)
    finally:
        lib.fp8gemm_force_kernel(-1)
        if sms:
            fp8gemm.set_num_sms(None)
    _check_close(outs[0], reference_gemm_nt(*_args(p)))
    assert torch.equal(outs[0], outs[1]), "stream-K results differ between two calls"


def test_stream_k_graph_captured() -> None:
    """A stream-K config (forced while capturing: the choice is made on the host) in a CUDA
    graph replays right on new data: its workspace comes from the graph's pool and its flags
    are zeroed by a node of the graph. (1024, 7168, 16384): the last of 4 rounds 39% full."""
    from fp8gemm import _native

    ids = [i for i, d in _stream_k_config_ids() if "block_m=128 block_n=128 " in d]
    if not ids:
        pytest.skip("this build has no 128x128 stream-K config")
    shape = (1024, 7168, 16384)
    first, second = _problem(shape, salt=5), _problem(shape, salt=6)
    a, sa, b, sb = (_clone(t) for t in _args(first))
    lib = _native.lib()
    lib.fp8gemm_force_kernel(ids[0])
    try:
        out = fp8gemm.gemm_nt(a, sa, b, sb)
        _check_close(out, reference_gemm_nt(*_args(first)))
        warm_up_outside_capture(lambda: fp8gemm.gemm_nt(a, sa, b, sb))
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = fp8gemm.gemm_nt(a, sa, b, sb)
    finally:
        lib.fp8gemm_force_kernel(-1)
    _replay_on_new_inputs(graph, static_out, (a, sa, b, sb), second)


@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=shape_id)
def test_gemm_nt_fp32(shape: tuple[int, int, int]) -> None:
    p = _problem(shape)
    out = fp8gemm.gemm_nt(*_args(p), out_dtype=torch.float32)
    assert out.dtype == torch.float32 and out.shape == shape[:2]
    _check_close(out, reference_gemm_nt(*_args(p)))


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=shape_id)
def test_gemm_nt_out_writes_every_element(shape: tuple[int, int, int], out_dtype: torch.dtype) -> None:
    p = _problem(shape)
    out = torch.full(shape[:2], float("nan"), dtype=out_dtype, device="cuda")
    result = fp8gemm.gemm_nt_out(*_args(p), out)
    assert result is None
    _check_close(out, reference_gemm_nt(*_args(p)))


@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=shape_id)
def test_gemm_nt_out_accumulate(shape: tuple[int, int, int]) -> None:
    p = _problem(shape)
    ref = reference_gemm_nt(*_args(p))
    gen = torch.Generator(device="cuda").manual_seed(11)
    out0 = torch.randn(shape[:2], generator=gen, device="cuda") * ref.abs().mean().float()
    out = out0.clone()
    fp8gemm.gemm_nt_out(*_args(p), out, accumulate=True)
    _check_close(out, out0.double() + ref)


# ---------------------------------------------------------------- scale layouts


def _relayout(p: dict[str, torch.Tensor], layout: str) -> dict[str, torch.Tensor]:
    q = dict(p)
    sa, sb = p["sa"], p["sb"]
    if layout == "sa_row_major":
        q["sa"] = sa.contiguous()
    elif layout == "sa_col_major_unpadded":  # column-major, leading dimension M (not align(M, 4))
        q["sa"] = sa.t().contiguous().t()
    elif layout == "sa_strided_view":  # every other column of a wider row-major buffer
        buf = torch.full((sa.shape[0], 2 * sa.shape[1]), float("nan"), device="cuda")
        q["sa"] = buf[:, ::2]
        q["sa"].copy_(sa)
    elif layout == "sb_col_major":
        q["sb"] = sb.t().contiguous().t()
    elif layout == "sb_strided_view":
        buf = torch.full((2 * sb.shape[0], sb.shape[1]), float("nan"), device="cuda")
        q["sb"] = buf[::2]
        q["sb"].copy_(sb)
    else:
        raise AssertionError(layout)
    return q


@pytest.mark.parametrize(
    "layout", ["sa_row_major", "sa_col_major_unpadded", "sa_strided_view", "sb_col_major", "sb_strided_view"]
)
@pytest.mark.parametrize("shape", PROPERTY_SHAPES, ids=shape_id)
def test_non_canonical_scale_layouts(shape: tuple[int, int, int], layout: str) -> None:
    p = _problem(shape)
    expected = fp8gemm.gemm_nt(*_args(p))
    q = _relayout(p, layout)
    if q["sa"].stride() == p["sa"].stride() and q["sb"].stride() == p["sb"].stride():
        pytest.skip(f"{layout} is the canonical layout for this shape")
    out = fp8gemm.gemm_nt(*_args(q))
    assert torch.equal(out, expected), "same scale values in another layout must give the same result"
    # The caller's tensors are not modified by the conversion.
    assert torch.equal(q["sa"], p["sa"]) and torch.equal(q["sb"], p["sb"])


# ---------------------------------------------------------------- streams, graphs, compile


@pytest.mark.parametrize("shape", PROPERTY_SHAPES, ids=shape_id)
def test_runs_on_current_stream(shape: tuple[int, int, int]) -> None:
    """The op must be ordered after earlier work on the current (side) stream.

    The side stream sleeps, then overwrites the inputs, then calls the op. Had the op
    been launched on another stream it would read the old inputs.
    """
    old, new = _problem(shape, salt=1), _problem(shape, salt=2)
    a, sa, b, sb = (_clone(t) for t in _args(old))
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)
        for dst, src in zip((a, sa, b, sb), _args(new)):
            dst.copy_(src)
        out = fp8gemm.gemm_nt(a, sa, b, sb)
    torch.cuda.current_stream().wait_stream(side)
    _check_close(out, reference_gemm_nt(*_args(new)))


@pytest.mark.parametrize("mode", ["out", "functional"])
@pytest.mark.parametrize("shape", PROPERTY_SHAPES, ids=shape_id)
def test_cuda_graph_replay_sees_new_data(shape: tuple[int, int, int], mode: str) -> None:
    first, second = _problem(shape, salt=3), _problem(shape, salt=4)
    a, sa, b, sb = (_clone(t) for t in _args(first))
    assert sa.stride() == first["sa"].stride()
    out = torch.empty(shape[:2], dtype=torch.bfloat16, device="cuda")

    def run() -> torch.Tensor:
        if mode == "out":
            fp8gemm.gemm_nt_out(a, sa, b, sb, out)
            return out
        return fp8gemm.gemm_nt(a, sa, b, sb)

    warm_up_outside_capture(run)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = run()

    _replay_on_new_inputs(graph, static_out, (a, sa, b, sb), second)


def _quantize_and_gemm(x: torch.Tensor, b: torch.Tensor, sb: torch.Tensor) -> torch.Tensor:
    a, sa = per_token_cast_to_fp8(x)
    return fp8gemm.gemm_nt(a, sa, b, sb)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_torch_compile_fullgraph(dynamic: bool) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(_quantize_and_gemm, fullgraph=True, dynamic=dynamic)
    gen = torch.Generator(device="cuda").manual_seed(21)
    w = torch.randn(2112, 576, generator=gen, device="cuda", dtype=torch.bfloat16)
    b, sb = per_block_cast_to_fp8(w)
    for m in (129, 64, 7):
        x = torch.randn(m, 576, generator=gen, device="cuda", dtype=torch.bfloat16)
        out = compiled(x, b, sb)
        a, sa = per_token_cast_to_fp8(x)  # eager quantization for the reference
        assert out.shape == (m, 2112) and out.dtype == torch.bfloat16
        _check_close(out, reference_gemm_nt(a, sa, b, sb))


def test_torch_compile_out_accumulate() -> None:
    torch._dynamo.reset()

    def step(a: torch.Tensor, sa: torch.Tensor, b: torch.Tensor, sb: torch.Tensor, out: torch.Tensor) -> None:
        fp8gemm.gemm_nt_out(a, sa, b, sb, out, accumulate=True)

    p = _problem((129, 2112, 2048))
    out0 = torch.randn(129, 2112, device="cuda")
    out = out0.clone()
    torch.compile(step, fullgraph=True)(*_args(p), out)
    _check_close(out, out0.double() + reference_gemm_nt(*_args(p)))


# opcheck's test_schema compares inputs with torch.allclose, which has no float8 kernels
# ("mul_cuda" not implemented for 'Float8_e4m3fn'); the same property (no undeclared
# mutation, no aliasing, out keeps its storage) is checked bytewise below instead.
OPCHECK_UTILS = ("test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
def test_opcheck_gemm_nt(out_dtype: torch.dtype) -> None:
    p = _problem((129, 2112, 576))
    op = torch.ops.fp8gemm.gemm_nt.default
    torch.library.opcheck(op, (*_args(p), out_dtype), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (*_args(p), out_dtype))


@pytest.mark.parametrize(
    "out_dtype, accumulate", [(torch.bfloat16, False), (torch.float32, False), (torch.float32, True)], ids=str
)
def test_opcheck_gemm_nt_out(out_dtype: torch.dtype, accumulate: bool) -> None:
    p = _problem((129, 2112, 576))
    op = torch.ops.fp8gemm.gemm_nt_out.default
    out = torch.randn(129, 2112, device="cuda").to(out_dtype)
    torch.library.opcheck(op, (*_args(p), out, accumulate), test_utils=OPCHECK_UTILS)
    assert_schema_respected(op, (*_args(p), out, accumulate), mutated=(4,))


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("n, k", [(2112, 7168), (136, 112)])
def test_m_zero(n: int, k: int) -> None:
    p = _problem((1, n, k))
    a = torch.empty(0, k, dtype=torch.float8_e4m3fn, device="cuda")
    sa = get_col_major_tma_aligned_tensor(torch.empty(0, ceil_div(k, 128), device="cuda"))
    out = fp8gemm.gemm_nt(a, sa, p["b"], p["sb"])
    assert out.shape == (0, n) and out.dtype == torch.bfloat16 and out.device.type == "cuda"
    fp8gemm.gemm_nt_out(a, sa, p["b"], p["sb"], torch.empty(0, n, dtype=torch.float32, device="cuda"))
    torch.cuda.synchronize()


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("shape", [(4096, 7168, 7168), (64, 2112, 7168), (129, 4096, 576)], ids=shape_id)
def test_deterministic(shape: tuple[int, int, int], out_dtype: torch.dtype) -> None:
    p = _problem(shape)
    first = fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype)
    second = fp8gemm.gemm_nt(*_args(p), out_dtype=out_dtype)
    assert torch.equal(first, second)
