// Plain C++ shared by host and device for the swap-AB decode kernel
// (sm90_fp8_gemm_swapab.cuh): thread counts, pipeline depth and the shared-memory
// budget of one config, so the generator, the heuristic and the kernel agree.
#pragma once

#include "sm90_gemm_layout.hpp"

namespace fp8gemm {

// NOTES: a config is built for one or two resident CTAs per SM (ctas_per_sm). With two,
// every CTA stays under half of the SM's 228 KB of shared memory (and half its registers).
// A cluster of S CTAs must land in one GPC; with one CTA per SM the GPCs' leftover SMs
// (16-18 per GPC, clusters of 4 or 8) can push the last clusters into a second wave, with
// two per SM the whole grid is resident at once. One per SM buys deeper rings and the
// registers for 128 weight rows x 64 tokens.
constexpr int swapab_smem_budget(int ctas_per_sm) { return ctas_per_sm == 1 ? kMaxSmemBytes : 112 * 1024; }
// NOTES: thread-block clusters of up to 8 CTAs are portable on sm_90; the K split is the
// cluster size.
constexpr int kSwapAbMaxSplit = 8;

// Threads: one math warpgroup per 64 weight rows, plus one producer warp.
constexpr int swapab_threads(int math_wg) { return math_wg * 128 + 32; }

// Registers per thread with ctas_per_sm CTAs resident: each of the SM's four
// 16K-register partitions holds a quarter of the warps (rounded up), in steps of 8.
// One math warpgroup: 10 warps, 3 per partition, 168; two: 18 warps, 5, 96 (measured
// with -Xptxas -v: the caps ptxas applies under __launch_bounds__(threads, 2)).
constexpr int swapab_regs(int math_wg, int ctas_per_sm) {
  const int warps = ctas_per_sm * swapab_threads(math_wg) / 32;
  const int regs = 16384 / ((warps + 3) / 4) / 32 / 8 * 8;
  return regs > 248 ? 248 : regs;
}
// Accumulator sets in flight in the math loop: as many as fit beside the promoted sum and
// ~56 registers of addresses and scales, between 1 and 4.
constexpr int swapab_depth(int tok, int math_wg, int ctas_per_sm) {
  const int depth = (swapab_regs(math_wg, ctas_per_sm) - 56) / (tok / 2) - 1;
  return depth > 4 ? 4 : (depth < 1 ? 1 : depth);
}
// A config fits the registers when its promoted sum and one accumulator set do.
constexpr bool swapab_fits_registers(int tok, int math_wg, int ctas_per_sm) {
  return swapab_regs(math_wg, ctas_per_sm) - 56 >= tok;
}

// Floats per token row of the partial-sum buffer: the tile's weight rows plus 4, so the
// accumulator stores of one warp fall into 32 different banks and rows stay 16-B aligned.
constexpr int swapab_part_stride(int math_wg) { return math_wg * 64 + 4; }
// Activation scales per stage, rounded up to 128 bytes (TMA destination alignment): from the
// canonical layout tok + 4 floats of one row of [Kb, align(M, 4)] (the box starts on the
// tile's first token rounded down to a multiple of 4: an offset group starts on any row);
// from row-major [M, Kb] scales a box of tok rows x 4 K blocks, from the block rounded down
// to a multiple of 4 (a box row must span 16 bytes and start on 16), of which the kernel
// reads one column.
constexpr int swapab_sa_stage_floats(int tok, bool sa_row_major) {
  return sa_row_major ? tok * 4 : (tok + 4 + 31) / 32 * 32;
}
struct SwapAbSmem {
  int w_offset, t_offset, sa_offset, part_offset, bar_offset, total;
};

// Per stage a weight tile (64 * math_wg rows x 128 B) and a token tile (tok rows x 128 B),
// both 1024-aligned for the 128-byte swizzle, and the tokens' scales; then the full/empty
// mbarriers and 1024 bytes of alignment slack. The partial-sum buffer [tok][part_stride]
// fp32 reuses the start of the ring once the main loop has consumed every stage (one more
// stage for 64 tokens than a buffer of its own).
constexpr SwapAbSmem swapab_smem(int tok, int math_wg, int stages, bool sa_row_major) {
  SwapAbSmem l{};
  l.w_offset = 0;
  l.t_offset = l.w_offset + stages * math_wg * 64 * kBlockK;
  l.sa_offset = l.t_offset + stages * tok * kBlockK;
  l.part_offset = 0;
  l.bar_offset = l.sa_offset + stages * swapab_sa_stage_floats(tok, sa_row_major) * 4;
  l.total = l.bar_offset + stages * 2 * 8 + kSmemAlign;
  return l;
}
constexpr bool swapab_part_fits(int tok, int math_wg, int stages) {
  return tok * swapab_part_stride(math_wg) * 4 <= swapab_smem(tok, math_wg, stages, false).sa_offset;
}

}  // namespace fp8gemm
