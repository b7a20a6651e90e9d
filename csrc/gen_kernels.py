"""Generates the fixed grid of kernel instantiations at build time.

Writes into the build directory (never into git):
  sm90_wgmma_fp8.cuh          WgmmaFp8<N>: the m64nNk32 e4m3 wgmma for every MMA width used (block_n, block_n / 2)
  fp8_gemm_1d2d_<cfg>.cu      one translation unit per config: its extern "C" entry point, built
                              into fp8_gemm_1d2d_<cfg>.cubin by CMake (fp8gemm_add_cubin)
  registry.cpp                embeds every 1D2D cubin (.incbin) and lists the configs with their
                              KernelImage (csrc/cuda_driver.hpp): the table the heuristic reads
  fp8_gemm_swapab_<cfg>.cu    the swap-AB decode kernels (issue 4), one entry point per config
  registry_swapab.cpp         their cubins and table
  fp8_wgrad_1d1d_<cfg>.cu     the weight-gradient (1D1D) kernels (issue 5), one entry point per config
  registry_wgrad.cpp          their cubins and table
  kernels.cmake               the kernels' names and the registries, for CMake

The grid is data: a product of parameters with each pruning rule commented.
FP8GEMM_GRID=dev (or --grid dev) builds a small subset for the edit-build-test loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

BLOCK_K = 128
SMEM_ALIGN = 1024
MAX_SMEM = 232448  # sm_90 opt-in limit per block
MAX_STAGES = 12


MAX_GROUPS = 1024  # kMaxGroups in sm90_gemm_layout.hpp
LAYOUTS = ("dense", "contiguous", "masked", "offset")


SA_SLOTS = 2  # kSaSlots in sm90_gemm_layout.hpp


def smem_bytes(block_m: int, block_n: int, stages: int, out_bytes: int, layout: str = "dense",
               sa_group: int = 0) -> int:
    """Mirror of gemm_1d2d_smem() in csrc/kernels/sm90_gemm_layout.hpp (the C++ side
    static_asserts the budget, so a mismatch fails the build rather than a launch)."""
    total = stages * block_m * BLOCK_K + stages * block_n * BLOCK_K
    total += block_m * block_n * out_bytes
    if sa_group:  # sa_buffer_bytes(): the row-major scale ring and its barriers
        total += SA_SLOTS * block_m * sa_group * 4 + SA_SLOTS * 2 * 8
    else:  # sa_stage_floats() per stage
        total += stages * -(-(block_m + (4 if layout == "offset" else 0)) // 32) * 32 * 4
    total += stages * 2 * 8
    if layout in ("masked", "offset"):
        total += 2 * (MAX_GROUPS + 1) * 4  # the group table
    return total + SMEM_ALIGN


@dataclass(frozen=True)
class Config:
    block_m: int
    block_n: int
    multicast: str  # "none" | "a" | "b"
    out: str  # "bf16" | "f32"
    layout: str = "dense"  # one of LAYOUTS
    # A scales read in place as row-major [rows, Kb], sa_group K blocks per box (4 to 32);
    # 0: the canonical layout
    sa_group: int = 0
    # Stream-K over the last round (dense, no cluster, block_n <= 128: the deferred loop)
    stream_k: bool = False

    @property
    def out_bytes(self) -> int:
        return 2 if self.out == "bf16" else 4

    @property
    def stages(self) -> int:
        """The deepest pipeline that fits in shared memory."""
        s = MAX_STAGES
        while s > 1 and self.smem(s) > MAX_SMEM:
            s -= 1
        return s

    def smem(self, stages: int) -> int:
        return smem_bytes(self.block_m, self.block_n, stages, self.out_bytes, self.layout, self.sa_group)

    @property
    def name(self) -> str:
        sa = f"_sarow{self.sa_group}" if self.sa_group else ""
        sk = "_sk" if self.stream_k else ""
        return f"{self.layout}_m{self.block_m}_n{self.block_n}_s{self.stages}_mc{self.multicast}_{self.out}{sa}{sk}"

    def row_major_twin(self) -> "Config":
        """The same config reading row-major scales: boxes of as many K blocks as keep the
        ring as deep as the canonical config's, of 32 (a 128-byte line per row, as few TMA
        requests per K block as the canonical layout's), 16, 8 or 4."""
        for group in (32, 16, 8):
            twin = dataclasses.replace(self, sa_group=group)
            if twin.stages == self.stages:
                return twin
        return dataclasses.replace(self, sa_group=4)


def full_grid() -> list[Config]:
    configs = []
    # bf16 output (forward and grouped GEMMs): the tuned set.
    # block_n: multiples of 16 up to 144 (a tile then spans at most two 128-row weight-scale
    # blocks, wherever it starts), plus 160 and 192 (their starts are multiples of 32 / 64,
    # so they also span at most two). Above 192 the two fp32 accumulator sets no longer fit
    # in registers.
    for block_m, block_n, mc in itertools.product((64, 128), (16, 32, 64, 96, 112, 128, 144, 160, 192), ("none", "a", "b")):
        if block_m == 64 and block_n in (112, 144):
            continue  # the 64-row tiles serve small M, where 96/128/160 cover the same ground
        if block_m == 64 and mc == "b":
            continue  # small M has too few m blocks to pair along M
        if block_m == 128 and block_n in (16, 32):
            continue  # too little work per 128-row tile to hide the promotion
        if block_n == 16 and mc == "b":
            continue  # 16-wide tiles serve decode-sized M: one m block, nothing to pair along M
        configs.append(Config(block_m, block_n, mc, "bf16"))
    # 256-row tiles (two 128-row waves per math warpgroup): less shared-memory traffic per
    # flop for large M; block_n 128 (the accumulators fill the registers).
    for mc in ("none", "a"):
        configs.append(Config(256, 128, mc, "bf16"))
    # fp32 output (accumulating GEMMs): a smaller set.
    for block_m, block_n, mc in itertools.product((64, 128), (64, 128, 160), ("none", "a")):
        configs.append(Config(block_m, block_n, mc, "f32"))
    # M-grouped layouts, bf16 output. Only A is shared across a cluster (a pair of m blocks
    # may straddle two groups' weights).
    # Contiguous: groups of >= 128 rows (prefill, training): the 128-row tiles of the
    # dense set, plus 64-row tiles for few tiles per wave.
    for block_n, mc in itertools.product((96, 128, 160), ("none", "a")):
        configs.append(Config(128, block_n, mc, "bf16", "contiguous"))
    for block_n in (64, 128):
        configs.append(Config(64, block_n, "none", "bf16", "contiguous"))
    # 256-row tiles, as for dense large M (less shared-memory traffic per flop). A tile that
    # holds the ends of two groups runs twice, once per group (sm90_scheduler.cuh).
    for mc in ("none", "a"):
        configs.append(Config(256, 128, mc, "bf16", "contiguous"))
    # Masked and offset: few rows per group (decode) up to thousands (prefill).
    for layout in ("masked", "offset"):
        for block_n in (32, 64, 128):
            configs.append(Config(64, block_n, "none", "bf16", layout))
        configs.append(Config(64, 128, "a", "bf16", layout))
        for block_n, mc in itertools.product((128, 160), ("none", "a")):
            configs.append(Config(128, block_n, mc, "bf16", layout))
        # NOTES: 128x144 for groups of ~1000 rows at N = 4096: 29 n blocks x 9 m blocks fill two
        # rounds of 132 SMs where 128x128 needs a third (benchmarks/NOTES.md #60).
        configs.append(Config(128, 144, "none", "bf16", layout))
    # Every config once more for 1x128 scales that come row-major [rows, Kb] (what most
    # quantizers write), read in place instead of copied into the canonical layout first.
    configs += [c.row_major_twin() for c in configs]
    # Stream-K twins of the dense tiles whose last round leaves SMs idle at long K.
    configs += [dataclasses.replace(Config(bm, bn, "none", "bf16"), stream_k=True) for bm, bn in STREAM_K_TILES]
    return configs


# NOTES: the stream-K tiles (benchmarks/NOTES.md #85).
STREAM_K_TILES = ((128, 128), (128, 96), (64, 128))


def dev_grid() -> list[Config]:
    return [
        Config(128, 128, "none", "bf16"),
        Config(128, 128, "a", "bf16"),
        Config(128, 128, "b", "bf16"),
        Config(128, 160, "a", "bf16"),
        Config(128, 96, "none", "bf16"),
        Config(64, 64, "none", "bf16"),
        Config(64, 128, "a", "bf16"),
        Config(128, 128, "none", "f32"),
        Config(64, 64, "a", "f32"),
        Config(128, 128, "none", "bf16", "contiguous"),
        Config(128, 128, "a", "bf16", "contiguous"),
        Config(64, 64, "none", "bf16", "masked"),
        Config(128, 128, "a", "bf16", "masked"),
        Config(64, 128, "none", "bf16", "offset"),
        Config(128, 128, "a", "bf16", "offset"),
    ] + [c.row_major_twin() for c in (
        Config(128, 128, "none", "bf16"),
        Config(128, 160, "a", "bf16"),
        Config(256, 128, "a", "bf16"),
        Config(64, 64, "none", "bf16"),
        Config(128, 128, "none", "f32"),
        Config(128, 128, "a", "bf16", "contiguous"),
        Config(64, 64, "none", "bf16", "masked"),
        Config(128, 128, "a", "bf16", "offset"),
    )] + [dataclasses.replace(Config(128, 128, "none", "bf16"), stream_k=True),
          dataclasses.replace(Config(64, 128, "none", "bf16"), stream_k=True)]


# ---------------------------------------------------------------- swap-AB decode kernels
SWAPAB_MAX_STAGES = 16


def swapab_smem_budget(ctas_per_sm: int) -> int:
    """Mirror of swapab_smem_budget() in csrc/kernels/sm90_swapab_layout.hpp."""
    return MAX_SMEM if ctas_per_sm == 1 else 112 * 1024


def swapab_smem_bytes(tok: int, math_wg: int, stages: int, sa_row_major: bool = False) -> int:
    """Mirror of swapab_smem() in csrc/kernels/sm90_swapab_layout.hpp."""
    total = stages * math_wg * 64 * BLOCK_K + stages * tok * BLOCK_K
    # token scales per stage (swapab_sa_stage_floats), 128-byte padded
    total += stages * (tok * 4 if sa_row_major else -(-(tok + 4) // 32) * 32) * 4
    total += stages * 2 * 8  # the partial-sum buffer reuses the ring (swapab_part_fits)
    return total + SMEM_ALIGN


@dataclass(frozen=True)
class SwapConfig:
    tok: int  # token tile: the wgmma's N
    math_wg: int  # 64 weight rows per math warpgroup
    out: str  # "bf16" | "f32"
    ctas_per_sm: int = 2  # resident CTAs per SM the config is built for
    sa_row_major: bool = False  # activation scales read in place as row-major [M, Kb]
    grouped: bool = False  # the masked and offset layouts (one CTA column per group)

    @property
    def stages(self) -> int:
        """The deepest ring within the shared-memory budget of ctas_per_sm CTAs per SM."""
        s = SWAPAB_MAX_STAGES
        while s > 1 and self.smem_bytes(s) > swapab_smem_budget(self.ctas_per_sm):
            s -= 1
        return s

    def smem_bytes(self, stages: int | None = None) -> int:
        return swapab_smem_bytes(self.tok, self.math_wg, self.stages if stages is None else stages, self.sa_row_major)

    @property
    def name(self) -> str:
        sa = "_sarow" if self.sa_row_major else ""
        grp = "_grouped" if self.grouped else ""
        return f"swapab_t{self.tok}_w{self.math_wg * 64}_s{self.stages}_c{self.ctas_per_sm}_{self.out}{sa}{grp}"


def full_swapab_grid() -> list[SwapConfig]:
    # Token tiles 8..64 cover decode M <= 64 with at most 2x padding in the (cheap) MMA N,
    # 64 weight rows per CTA, two CTAs per SM: what the heuristic uses.
    # Each also reading row-major activation scales in place (no relayout copy).
    configs = []
    for sa_row_major in (False, True):
        for out in ("bf16", "f32"):
            for tok in (8, 16, 32, 64):
                configs.append(SwapConfig(tok, 1, out, 2, sa_row_major))
    # Measured and kept for the forced tests and the sweep, not chosen by the heuristic
    # (benchmarks/NOTES.md #30): 128 weight rows on one token tile (half the token re-reads;
    # fewer CTAs: 0.5-3 us slower), and one CTA per SM with a 12-stage ring (no faster).
    configs.append(SwapConfig(32, 2, "bf16"))
    configs.append(SwapConfig(64, 1, "bf16", 1))
    # The masked and offset layouts at decode size (bf16 output, as every grouped op).
    for sa_row_major in (False, True):
        for tok in (8, 16, 32, 64):
            configs.append(SwapConfig(tok, 1, "bf16", 2, sa_row_major, True))
    return configs


def dev_swapab_grid() -> list[SwapConfig]:
    return [SwapConfig(8, 1, "bf16"), SwapConfig(64, 1, "bf16"), SwapConfig(32, 2, "bf16"), SwapConfig(16, 1, "f32"),
            SwapConfig(32, 2, "f32"), SwapConfig(16, 1, "bf16", 2, True), SwapConfig(64, 1, "f32", 2, True),
            SwapConfig(16, 1, "bf16", 2, False, True), SwapConfig(64, 1, "bf16", 2, True, True)]


def translation_unit_swapab(c: SwapConfig) -> str:
    row = "true" if c.sa_row_major else "false"
    smem = f"fp8gemm::swapab_smem({c.tok}, {c.math_wg}, {c.stages}, {row}).total"
    return (
        "// Generated by csrc/gen_kernels.py: the entry point of one swap-AB config, built into a cubin.\n"
        '#include "kernels/sm90_fp8_gemm_swapab.cuh"\n'
        f"static_assert({smem} == {c.smem_bytes()}, "
        '"gen_kernels.py and sm90_swapab_layout.hpp disagree on shared memory");\n'
        f"static_assert({smem} <= fp8gemm::swapab_smem_budget({c.ctas_per_sm}), "
        '"config exceeds the swap-AB shared-memory budget");\n'
        f'extern "C" __global__ void __launch_bounds__(fp8gemm::swapab_threads({c.math_wg}), {c.ctas_per_sm})\n'
        f"    fp8gemm_{c.name}(const __grid_constant__ CUtensorMap tmap_w, const __grid_constant__ CUtensorMap tmap_t,\n"
        "        const __grid_constant__ CUtensorMap tmap_sa, const fp8gemm::GemmArgs args) {\n"
        f"  fp8gemm::sm90::fp8_gemm_swapab_body<{c.tok}, {c.math_wg}, {c.stages}, {c.ctas_per_sm}, {OUT_TYPE[c.out]}, "
        f"{row}, {'true' if c.grouped else 'false'}>("
        "tmap_w, tmap_t, tmap_sa, args);\n"
        "}\n"
    )


def registry_swapab(configs: list[SwapConfig], cubin_dir: Path) -> str:
    def row(c: SwapConfig) -> tuple[str, str, str, int, str]:
        sa = "true" if c.sa_row_major else "false"
        grp = "true" if c.grouped else "false"
        cfg = f"{c.tok}, {c.math_wg}, {c.stages}, {c.ctas_per_sm}, {OUT_ENUM[c.out]}, {c.smem_bytes()}, {sa}, {grp}"
        return f"fp8_gemm_{c.name}", f"fp8gemm_{c.name}", f"swapab_threads({c.math_wg})", c.smem_bytes(), cfg

    return registry_source("swap-AB", "swapab_registry.hpp", "KernelSwapAb", "kKernelsSwapAb", "kNumKernelsSwapAb",
                           [row(c) for c in configs], cubin_dir)


# ---------------------------------------------------------------- weight gradient (1D1D)


def wgrad_smem_bytes(block_m: int, block_n: int, stages: int, k_grouped: bool) -> int:
    """Mirror of wgrad_smem() in csrc/kernels/sm90_wgrad_layout.hpp."""
    scale = lambda b: -(-b // 32) * 32  # noqa: E731  (wgrad_scale_floats)
    scale_stages = stages + 1  # wgrad_scale_stages()
    total = stages * (block_m + block_n) * BLOCK_K + block_m * block_n * 4
    total += scale_stages * (scale(block_m) + scale(block_n)) * 4
    total += 2 * 128 if k_grouped else 0  # tensor-map staging
    total += (stages + scale_stages) * 2 * 8
    total += 2 * (MAX_GROUPS + 1) * 4 if k_grouped else 0  # the group table
    return total + SMEM_ALIGN


@dataclass(frozen=True)
class WgradConfig:
    block_m: int
    block_n: int
    multicast: str  # "none" | "a" | "b"
    k_grouped: bool = False

    @property
    def stages(self) -> int:
        # NOTES: at most 8 stages: the ring only has to cover TMA latency; deeper rings
        # measured nothing for the 1D2D kernel's wide tiles.
        s = 8
        while s > 1 and wgrad_smem_bytes(self.block_m, self.block_n, s, self.k_grouped) > MAX_SMEM:
            s -= 1
        return s

    @property
    def smem(self) -> int:
        return wgrad_smem_bytes(self.block_m, self.block_n, self.stages, self.k_grouped)

    @property
    def name(self) -> str:
        kind = "kgrouped" if self.k_grouped else "dense"
        return f"{kind}_m{self.block_m}_n{self.block_n}_s{self.stages}_mc{self.multicast}"


def wgrad_full_grid() -> list[WgradConfig]:
    configs = []
    # Weight gradients are large in M and N (hidden sizes) and K (tokens): 128-row tiles
    # with 128- or 96-wide N (96: fewer idle columns for N = 2112-like widths), each with no
    # cluster or with either operand shared; 64x128 for few tiles per wave (small M x N).
    for kg in (False, True):
        for block_n, mc in itertools.product((96, 128), ("none", "a", "b")):
            configs.append(WgradConfig(128, block_n, mc, kg))
        configs.append(WgradConfig(64, 128, "none", kg))
    return configs


def wgrad_dev_grid() -> list[WgradConfig]:
    return [
        WgradConfig(128, 128, "none"),
        WgradConfig(128, 128, "a"),
        WgradConfig(64, 128, "none"),
        WgradConfig(128, 128, "none", True),
        WgradConfig(128, 128, "b", True),
    ]


def wgrad_translation_unit(c: WgradConfig) -> str:
    kg = "true" if c.k_grouped else "false"
    smem = f"fp8gemm::wgrad_smem({c.block_m}, {c.block_n}, {c.stages}, {kg}).total"
    return (
        "// Generated by csrc/gen_kernels.py: the entry point of one 1D1D config, built into a cubin.\n"
        '#include "kernels/sm90_fp8_gemm_1d1d.cuh"\n'
        f"static_assert({smem} == {c.smem}, \"gen_kernels.py and sm90_wgrad_layout.hpp disagree on shared memory\");\n"
        f"static_assert({smem} <= fp8gemm::kMaxSmemBytes, \"config exceeds shared memory\");\n"
        f'extern "C" __global__ void __launch_bounds__(fp8gemm::wgrad_threads({c.block_m}), 1)\n'
        f"    fp8gemm_wgrad_1d1d_{c.name}(const __grid_constant__ CUtensorMap tmap_a,\n"
        "        const __grid_constant__ CUtensorMap tmap_b, const __grid_constant__ CUtensorMap tmap_sa,\n"
        "        const __grid_constant__ CUtensorMap tmap_sb, const __grid_constant__ CUtensorMap tmap_d,\n"
        "        const fp8gemm::WgradArgs args) {\n"
        f"  fp8gemm::sm90::fp8_wgrad_1d1d_body<{c.block_m}, {c.block_n}, {c.stages}, fp8gemm::{MC_ENUM[c.multicast]}, "
        f"{kg}>(tmap_a, tmap_b, tmap_sa, tmap_sb, tmap_d, args);\n"
        "}\n"
    )


def wgrad_registry(configs: list[WgradConfig], cubin_dir: Path) -> str:
    def row(c: WgradConfig) -> tuple[str, str, str, int, str]:
        kg = "true" if c.k_grouped else "false"
        cfg = f"{c.block_m}, {c.block_n}, {c.stages}, {MC_ENUM[c.multicast]}, {kg}, {c.smem}"
        return f"fp8_wgrad_1d1d_{c.name}", f"fp8gemm_wgrad_1d1d_{c.name}", f"wgrad_threads({c.block_m})", c.smem, cfg

    return registry_source("1D1D (weight-gradient)", "wgrad_registry.hpp", "KernelWgrad", "kKernelsWgrad",
                           "kNumKernelsWgrad", [row(c) for c in configs], cubin_dir)


def wgmma_header(block_ns: list[int]) -> str:
    parts = [
        "// Generated by csrc/gen_kernels.py: wgmma m64nNk32, e4m3 x e4m3 -> f32, both operands",
        "// from shared memory (K-major). `accumulate` false overwrites d.",
        "#pragma once",
        "#include <cstdint>",
        "namespace fp8gemm::sm90 {",
        "template <int N> struct WgmmaFp8;",
    ]
    for n in block_ns:
        regs = n // 2
        outs = ", ".join(f"%{i}" for i in range(regs))
        constraints = ", ".join(f'"+f"(d[{i}])' for i in range(regs))
        parts.append(
            f"template <> struct WgmmaFp8<{n}> {{\n"
            f"  __device__ __forceinline__ static void mma(uint64_t desc_a, uint64_t desc_b, float* d, bool accumulate) {{\n"
            f'    asm volatile("{{\\n.reg .pred p;\\nsetp.ne.b32 p, %{regs + 2}, 0;\\n"\n'
            f'        "wgmma.mma_async.sync.aligned.m64n{n}k32.f32.e4m3.e4m3 {{{outs}}}, %{regs}, %{regs + 1}, p, 1, 1;\\n}}\\n"\n'
            f"        : {constraints}\n"
            f'        : "l"(desc_a), "l"(desc_b), "r"(int(accumulate)));\n'
            f"  }}\n}};"
        )
    parts.append("}  // namespace fp8gemm::sm90\n")
    return "\n".join(parts)


MC_ENUM = {"none": "Multicast::kNone", "a": "Multicast::kA", "b": "Multicast::kB"}
OUT_TYPE = {"bf16": "__nv_bfloat16", "f32": "float"}
OUT_ENUM = {"bf16": "OutDtype::kBF16", "f32": "OutDtype::kF32"}
LAYOUT_ENUM = {"dense": "Layout::kDense", "contiguous": "Layout::kContiguous", "masked": "Layout::kMasked",
               "offset": "Layout::kOffset"}


def entry_name(c: Config) -> str:
    """The kernel's unmangled entry point, looked up in its cubin at load time."""
    return f"fp8gemm_1d2d_{c.name}"


def template_args(c: Config) -> str:
    return (f"{c.block_m}, {c.block_n}, {c.stages}, fp8gemm::{MC_ENUM[c.multicast]}, {OUT_TYPE[c.out]}, "
            f"fp8gemm::{LAYOUT_ENUM[c.layout]}, {c.sa_group}, {'true' if c.stream_k else 'false'}")


def translation_unit(c: Config) -> str:
    smem = (f"fp8gemm::gemm_1d2d_smem({c.block_m}, {c.block_n}, {c.stages}, {c.out_bytes}, "
            f"fp8gemm::{LAYOUT_ENUM[c.layout]}, {c.sa_group}).total")
    return (
        "// Generated by csrc/gen_kernels.py: the entry point of one config, built into a cubin.\n"
        '#include "kernels/sm90_fp8_gemm_1d2d.cuh"\n'
        f"static_assert({smem} == {c.smem(c.stages)}, \"gen_kernels.py and sm90_gemm_layout.hpp disagree on shared memory\");\n"
        f"static_assert({smem} <= fp8gemm::kMaxSmemBytes, \"config exceeds shared memory\");\n"
        f'extern "C" __global__ void __launch_bounds__(fp8gemm::gemm_1d2d_threads({c.block_m}), 1)\n'
        f"    {entry_name(c)}(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,\n"
        "        const __grid_constant__ CUtensorMap tmap_sa, const __grid_constant__ CUtensorMap tmap_d,\n"
        "        const fp8gemm::GemmArgs args) {\n"
        f"  fp8gemm::sm90::fp8_gemm_1d2d_body<{template_args(c)}>(tmap_a, tmap_b, tmap_sa, tmap_d, args);\n"
        "}\n"
    )


def embed_cubins(kernels: list[str], cubin_dir: Path) -> list[str]:
    """C++ lines that assemble each kernel's cubin into read-only data (.incbin, 128-byte
    aligned) as the hidden symbol fp8gemm_cubin_<kernel>."""
    lines = ["", "// The cubins, assembled into read-only data; each symbol is hidden (not exported)."]
    for k in kernels:
        sym = f"fp8gemm_cubin_{k}"
        path = (cubin_dir / f"{k}.cubin").as_posix()
        lines.append(
            f'__asm__(".pushsection .rodata.fp8gemm_cubins, \\"a\\", @progbits\\n.balign 128\\n'
            f'.globl {sym}\\n.hidden {sym}\\n{sym}:\\n.incbin \\"{path}\\"\\n.popsection\\n");'
        )
        lines.append(f'extern "C" __attribute__((visibility("hidden"))) const unsigned char {sym}[];')
    lines.append("")
    return lines


def registry_source(family: str, header: str, table_type: str, table: str, count: str,
                    rows: list[tuple[str, str, str, int, str]], cubin_dir: Path) -> str:
    """A family's generated registry: its cubins embedded, a KernelImage per config and the
    table `table_type table[]` of {config initializer, image}. rows: (cubin stem, entry point,
    threads expression, shared-memory bytes, config initializer), one per config."""
    lines = [
        f"// Generated by csrc/gen_kernels.py: every compiled {family} config, its cubin embedded.",
        f'#include "{header}"',
    ]
    lines += embed_cubins([stem for stem, *_ in rows], cubin_dir)
    lines += ["namespace fp8gemm {", "namespace {", "KernelImage kImages[] = {"]
    lines += [f'    {{fp8gemm_cubin_{stem}, "{entry}", {threads}, {smem}}},' for stem, entry, threads, smem, _ in rows]
    lines += ["};", "}  // namespace", f"const {table_type} {table}[] = {{"]
    lines += [f"    {{{{{cfg}}}, &kImages[{i}]}}," for i, (*_, cfg) in enumerate(rows)]
    lines += ["};", f"const int {count} = {len(rows)};", "}  // namespace fp8gemm\n"]
    return "\n".join(lines)


def registry(configs: list[Config], cubin_dir: Path) -> str:
    def row(c: Config) -> tuple[str, str, str, int, str]:
        smem = c.smem(c.stages)
        cfg = (f"{c.block_m}, {c.block_n}, {c.stages}, {MC_ENUM[c.multicast]}, {OUT_ENUM[c.out]}, {smem}, "
               f"{LAYOUT_ENUM[c.layout]}, {c.sa_group}, {'true' if c.stream_k else 'false'}")
        return f"fp8_gemm_1d2d_{c.name}", entry_name(c), f"gemm_1d2d_threads({c.block_m})", smem, cfg

    return registry_source("1D2D", "gemm_registry.hpp", "Kernel1D2D", "kKernels1D2D", "kNumKernels1D2D",
                           [row(c) for c in configs], cubin_dir)


def write_if_changed(path: Path, text: str) -> None:
    """Leaves unchanged files untouched so re-configuring does not rebuild them."""
    if path.exists() and path.read_text() == text:
        return
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--grid", choices=("full", "dev"), default=os.environ.get("FP8GEMM_GRID", "full") or "full")
    args = parser.parse_args()

    configs = dev_grid() if args.grid == "dev" else full_grid()
    swap_configs = dev_swapab_grid() if args.grid == "dev" else full_swapab_grid()
    wgrad = wgrad_dev_grid() if args.grid == "dev" else wgrad_full_grid()
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    widths = {c.block_n for c in configs} | {c.block_n // 2 for c in configs} | {c.tok for c in swap_configs}
    widths |= {c.block_n for c in wgrad}
    write_if_changed(out / "sm90_wgmma_fp8.cuh", wgmma_header(sorted(widths)))
    kernels = []
    for c in configs:
        write_if_changed(out / f"fp8_gemm_1d2d_{c.name}.cu", translation_unit(c))
        kernels.append(f"fp8_gemm_1d2d_{c.name}")
    write_if_changed(out / "registry.cpp", registry(configs, out))
    for c in swap_configs:
        write_if_changed(out / f"fp8_gemm_{c.name}.cu", translation_unit_swapab(c))
        kernels.append(f"fp8_gemm_{c.name}")
    write_if_changed(out / "registry_swapab.cpp", registry_swapab(swap_configs, out))
    for c in wgrad:
        write_if_changed(out / f"fp8_wgrad_1d1d_{c.name}.cu", wgrad_translation_unit(c))
        kernels.append(f"fp8_wgrad_1d1d_{c.name}")
    write_if_changed(out / "registry_wgrad.cpp", wgrad_registry(wgrad, out))
    registries = ("registry.cpp", "registry_swapab.cpp", "registry_wgrad.cpp")
    listing = ("# Generated by csrc/gen_kernels.py: each kernel has a <name>.cu here, built into <name>.cubin;\n"
               "# the registries embed the cubins.\n"
               "set(FP8GEMM_KERNELS\n" + "".join(f"  {k}\n" for k in kernels) + ")\n"
               "set(FP8GEMM_REGISTRIES\n" + "".join(f'  "{(out / r).as_posix()}"\n' for r in registries) + ")\n")
    write_if_changed(out / "kernels.cmake", listing)
    print(f"fp8gemm: generated {len(configs)} + {len(swap_configs)} swap-AB + {len(wgrad)} wgrad kernel configs "
          f"({args.grid} grid) in {out}")


if __name__ == "__main__":
    main()
