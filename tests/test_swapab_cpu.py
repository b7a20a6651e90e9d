"""Config selection of the swap-AB decode path of gemm_nt (issue 4), no GPU needed."""

from __future__ import annotations

import pytest
import torch

import fp8gemm
from fp8gemm import _native

pytestmark = pytest.mark.skipif(not _native.is_loaded(), reason=f"native library not loaded: {_native.load_error}")

DECODE_M = (1, 2, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64)
TARGET_NK = [(2112, 7168), (4096, 7168), (7168, 2048), (24576, 1536), (7168, 16384)]
SMEM_PER_SM = 233472  # 228 KB on sm_90; each resident CTA also reserves 1 KB
MAX_SMEM_PER_CTA = 232448


def _swap_lines() -> list[str]:
    return fp8gemm.swapab_kernel_grid().splitlines()


def test_swapab_grid_is_compiled():
    lines = _swap_lines()
    assert len(lines) == _native.lib().fp8gemm_num_swapab_kernels() > 0
    assert all(line.startswith("swap_ab tok=") for line in lines)
    assert any("out=bf16" in line for line in lines) and any("out=fp32" in line for line in lines)


@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32], ids=str)
@pytest.mark.parametrize("n,k", TARGET_NK)
@pytest.mark.parametrize("m", DECODE_M)
def test_small_m_picks_swap_ab(m, n, k, out_dtype):
    cfg = fp8gemm.select_config("gemm_nt", m, n, k, out_dtype=out_dtype)
    out = "fp32" if out_dtype == torch.float32 else "bf16"
    toks = [int(ln.split("tok=")[1].split()[0]) for ln in _swap_lines() if f"out={out}" in ln]
    if not any(t >= m for t in toks) or (m > 16 and k < 4096) or (m > 32 and n > 4096):
        # A reduced (dev) grid; or the measured crossover: past 16 tokens with K <= 2048 and
        # past 32 with N > 4096 the 1D2D kernel ties or wins (csrc/swapab.cpp).
        assert cfg["swap_ab"] is False
        return
    assert cfg["swap_ab"] is True, cfg
    tok, rows, split = cfg["block_m"], cfg["block_n"], cfg["cluster"]
    assert tok % 8 == 0 and tok >= m, "one token tile holds every token"
    assert tok == min(t for t in toks if t >= m), "the smallest compiled token tile that holds M"
    assert rows in (64, 128) and cfg["block_k"] == 128 and cfg["multicast"] == "none"
    assert 1 <= split <= 8 and split <= -(-k // 128), "a portable cluster, at most one CTA per K block"
    assert cfg["grid"] == -(-n // rows) * split * -(-m // tok)
    # Two CTAs fit on one SM, so every cluster of the grid is resident at once.
    assert 2 * (cfg["smem_bytes"] + 1024) <= SMEM_PER_SM
    line = f"swap_ab tok={tok} rows={rows} stages={cfg['stages']}"
    assert any(ln.startswith(line) and f"out={out} sa=canonical smem={cfg['smem_bytes']}" in ln
               for ln in _swap_lines()), cfg


@pytest.mark.parametrize("m", [128, 129, 1000, 4096])
@pytest.mark.parametrize("n,k", TARGET_NK)
def test_large_m_keeps_the_1d2d_kernel(m, n, k):
    cfg = fp8gemm.select_config("gemm_nt", m, n, k)
    assert cfg["swap_ab"] is False and cfg["block_m"] in (64, 128, 256)


@pytest.mark.parametrize("m,n,k", [(1, 2112, 7168), (64, 4096, 16384), (32, 7168, 16384), (16, 16, 16), (8, 136, 112)])
@pytest.mark.parametrize("num_sms", [132, 78, 1])
def test_swap_ab_config_fits(m, n, k, num_sms):
    cfg = fp8gemm.select_config("gemm_nt", m, n, k, num_sms=num_sms)
    assert cfg["swap_ab"]
    assert cfg["smem_bytes"] <= MAX_SMEM_PER_CTA
    assert cfg["grid"] % cfg["cluster"] == 0
    if num_sms == 1:
        assert cfg["cluster"] == 1


def test_set_swap_ab_off_and_on():
    assert fp8gemm.get_swap_ab()
    fp8gemm.set_swap_ab(False)
    try:
        assert not fp8gemm.get_swap_ab()
        cfg = fp8gemm.select_config("gemm_nt", 4, 2112, 7168)
        assert cfg["swap_ab"] is False and cfg["block_m"] in (64, 128, 256)
    finally:
        fp8gemm.set_swap_ab(True)
    assert fp8gemm.select_config("gemm_nt", 4, 2112, 7168)["swap_ab"] is True
    with pytest.raises(TypeError, match="set_swap_ab"):
        fp8gemm.set_swap_ab(1)  # type: ignore[arg-type]


def test_batch_invariant_mode_disables_swap_ab():
    fp8gemm.set_batch_invariant(True)
    try:
        assert fp8gemm.select_config("gemm_nt", 4, 2112, 7168)["swap_ab"] is False
    finally:
        fp8gemm.set_batch_invariant(False)
    assert fp8gemm.select_config("gemm_nt", 4, 2112, 7168)["swap_ab"] is True


def test_contiguous_never_swaps():
    assert fp8gemm.select_config("m_grouped_gemm_nt_contiguous", 8, 4096, 7168, num_groups=4)["swap_ab"] is False


@pytest.mark.parametrize("kind", ["m_grouped_gemm_nt_masked", "m_grouped_gemm_nt_offset"])
@pytest.mark.parametrize("g,e,n,k", [(2, 16, 4096, 7168), (4, 16, 4096, 7168), (4, 32, 4096, 7168), (9, 32, 4096, 7168),
                                     (32, 64, 4096, 7168), (256, 8, 4096, 7168), (1, 1, 7168, 2048), (4, 51, 2112, 7168),
                                     (4, 52, 2112, 7168), (5, 16, 7168, 2048)])
def test_grouped_decode_takes_swap_ab(kind, g, e, n, k):
    """Masked and offset groups of decode size: swap-AB, one CTA column per group, where a
    token tile holds 1.25 x the expected rows and the groups' 64-row weight tiles fit two
    per SM; else the 1D2D kernel."""
    cfg = fp8gemm.select_config(kind, e, n, k, num_groups=g)
    want = -(-e * 5 // 4)
    tiles = g * -(-n // 64)
    if want > 64 or tiles > 2 * 132:
        assert cfg["swap_ab"] is False, cfg
        return
    assert cfg["swap_ab"] is True, cfg
    toks = sorted({int(ln.split("tok=")[1].split()[0]) for ln in _swap_lines() if "out=bf16" in ln})
    assert cfg["block_m"] == min(t for t in toks if t >= want)
    assert cfg["block_n"] == 64
    split = cfg["cluster"]
    assert cfg["grid"] == tiles * split
    target = 99 if cfg["block_m"] < 32 else 132  # the K split's share of an H100's 132 SMs
    want_split = max(1, target // tiles)
    if cfg["block_m"] >= 32 and k >= 96 * 128 and want_split == 1 and tiles <= 132:
        want_split = 2
    assert split == min(want_split, 8, -(-k // 128))


def test_force_swapab_config_and_split():
    lib = _native.lib()
    lines = _swap_lines()
    idx = next(i for i, ln in enumerate(lines) if "out=bf16" in ln)
    tok = int(lines[idx].split("tok=")[1].split()[0])
    lib.fp8gemm_force_swapab(idx, 3)
    try:
        cfg = fp8gemm.select_config("gemm_nt", 100, 2112, 7168)  # forced even past the crossover
        assert cfg["swap_ab"] and cfg["block_m"] == tok and cfg["cluster"] == 3
        assert cfg["grid"] == -(-2112 // cfg["block_n"]) * 3 * -(-100 // tok)
    finally:
        lib.fp8gemm_force_swapab(-1, 0)
    assert fp8gemm.select_config("gemm_nt", 100, 2112, 7168)["swap_ab"] is False


def test_generator_mirrors_the_smem_layout():
    """gen_kernels.swapab_smem_bytes (the registry's smem column) against the stages it picked."""
    import importlib.util
    import pathlib
    import sys

    path = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "gen_kernels.py"
    spec = importlib.util.spec_from_file_location("gen_kernels", path)
    gen = importlib.util.module_from_spec(spec)
    sys.modules["gen_kernels"] = gen  # dataclasses look their module up there
    try:
        spec.loader.exec_module(gen)
    finally:
        del sys.modules["gen_kernels"]
    for c in gen.full_swapab_grid():
        budget = gen.swapab_smem_budget(c.ctas_per_sm)
        assert c.ctas_per_sm * (budget + 1024) <= SMEM_PER_SM
        assert c.smem_bytes() <= budget
        assert c.stages == gen.SWAPAB_MAX_STAGES or c.smem_bytes(c.stages + 1) > budget
        assert c.stages >= 3, f"{c.name}: a ring of at least 3 stages"


@pytest.mark.parametrize("m", [1, 8, 16, 32, 64])
@pytest.mark.parametrize("n,k", TARGET_NK)
def test_k_split_follows_the_memory_bandwidth(m, n, k):
    """With 8..16-token tiles the K split aims at a share of the SMs that grows with the
    memory bandwidth (an H200 streams 1.47x an H100's bytes and needs more CTAs reading),
    never every SM; from 32 tokens the share is the whole device on both."""
    h100 = fp8gemm.select_config("gemm_nt", m, n, k)
    h200 = fp8gemm.select_config("gemm_nt", m, n, k, mem_bandwidth_gbs=4915)
    assert h100["swap_ab"] == h200["swap_ab"]
    if not h100["swap_ab"]:
        return
    tiles = -(-n // h100["block_n"]) * -(-m // h100["block_m"])
    kb = -(-k // 128)

    def expected(target: int) -> int:
        split = max(1, target // tiles)
        if h100["block_m"] >= 32 and kb >= 96 and split == 1 and tiles <= 132:
            split = 2  # long K: two CTAs per SM
        return min(split, 8, kb)

    if h100["block_m"] >= 32:
        assert h100["cluster"] == h200["cluster"] == expected(132)
    else:
        assert h100["cluster"] == expected(99)  # 75% of 132 SMs
        assert h200["cluster"] == expected(131)  # 75% x 4915 / 3352 = 145, one below the SM count
    assert h100["grid"] == tiles * h100["cluster"] and h200["grid"] == tiles * h200["cluster"]


def test_k_split_measured_points():
    """The H200 sweep's fastest splits (benchmarks/NOTES.md #55)."""
    for (m, n, k), split in {(8, 4096, 7168): 2, (1, 2112, 7168): 3, (16, 7168, 2048): 1,
                             (8, 7168, 16384): 1, (32, 7168, 16384): 2}.items():
        assert fp8gemm.select_config("gemm_nt", m, n, k, mem_bandwidth_gbs=4915)["cluster"] == split
    assert fp8gemm.select_config("gemm_nt", 8, 4096, 7168)["cluster"] == 1  # H100: 64 CTAs won


@pytest.mark.parametrize("bw", [0, -1])
def test_select_config_rejects_bad_bandwidth(bw):
    with pytest.raises(ValueError, match="mem_bandwidth_gbs"):
        fp8gemm.select_config("gemm_nt", 8, 4096, 7168, mem_bandwidth_gbs=bw)
