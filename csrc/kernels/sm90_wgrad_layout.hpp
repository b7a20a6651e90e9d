// Plain C++ shared by host and device for the weight-gradient ("1D1D") kernel family:
// kernel arguments and the shared-memory budget of one config. The generator
// (csrc/gen_kernels.py, wgrad_smem_bytes) mirrors wgrad_smem(); the launcher
// static_asserts the budget.
#pragma once

#include <cstdint>

#include "sm90_gemm_layout.hpp"

namespace fp8gemm {

// Runtime arguments of one 1D1D launch. A, B, both scale sets and D travel as TMA
// descriptors; the k-grouped layout also needs the raw operand bases (each group's A and
// B descriptors are rebuilt on the device from them) and the device-side group sizes.
struct WgradArgs {
  int m, n;
  int k;           // dense: K. k-grouped: unused (the groups' sizes come from ks)
  int num_groups;  // 1 for dense
  int accumulate;  // out += product (TMA reduce-add) instead of out = product
  // k-grouped only.
  const int* ks;      // device int32 [G]: K of each group (never trusted: clamped on device)
  int k_total;        // columns of the flat operands (a has M * k_total elements)
  int kb_total;       // rows of the K-block-major scales (sum of ceil(K_g / 128))
  const uint8_t* a;   // flat bases of the k-grouped operands
  const uint8_t* b;
};

// NOTES: 4 tensor maps per CTA: A and B, each twice, so that rebuilding the maps for a new
// group never overwrites a descriptor that loads still in flight may read (sm90_fp8_gemm_1d1d.cuh).
constexpr int kWgradMapsPerCta = 4;
constexpr int kTensorMapBytes = 128;
// NOTES: the rebuilt maps live in a pool in the k-grouped kernel's own module memory (no
// workspace per call); a CTA holds one pool entry from its start to its end. A CTA takes a
// whole SM (its shared memory), so 256 entries cover every CTA that can be resident on any
// Hopper part, whatever the launches in flight (132 SMs on an H100).
constexpr int kWgradMapPoolEntries = 256;

// One or two math warpgroups (64 rows each) plus the producer warpgroup.
constexpr int wgrad_math_warpgroups(int block_m) { return block_m == 64 ? 1 : 2; }
constexpr int wgrad_threads(int block_m) { return (wgrad_math_warpgroups(block_m) + 1) * 128; }

// Scale boxes per stage, rounded up to 32 floats: TMA writes shared memory 128-byte aligned.
constexpr int wgrad_scale_floats(int block) { return (block + 31) / 32 * 32; }
// The scales have their own ring, one stage deeper than the A/B ring: an A/B stage is
// released as soon as its MMAs are done, while its scales are still read by the promotion.
constexpr int wgrad_scale_stages(int stages) { return stages + 1; }

struct WgradSmem {
  int a_offset, b_offset, d_offset, sa_offset, sb_offset, map_offset, bar_offset, table_offset, total;
};

// Per stage an A tile (block_m x 128 B) and a B tile (block_n x 128 B), both 1024-aligned
// for the 128-byte swizzle; per scale stage both scale boxes; one fp32 output staging tile;
// two 128-byte staging slots for tensor maps being rebuilt (k-grouped); a full and an empty
// mbarrier per stage of each ring; the k-grouped group table (K offsets and K-block
// offsets, 2 x (kMaxGroups + 1) ints); plus 1024 bytes of alignment slack.
constexpr WgradSmem wgrad_smem(int block_m, int block_n, int stages, bool k_grouped) {
  WgradSmem l{};
  l.a_offset = 0;
  l.b_offset = l.a_offset + stages * block_m * kBlockK;
  l.d_offset = l.b_offset + stages * block_n * kBlockK;
  l.sa_offset = l.d_offset + block_m * block_n * 4;
  l.sb_offset = l.sa_offset + wgrad_scale_stages(stages) * wgrad_scale_floats(block_m) * 4;
  l.map_offset = l.sb_offset + wgrad_scale_stages(stages) * wgrad_scale_floats(block_n) * 4;
  l.bar_offset = l.map_offset + (k_grouped ? 2 * kTensorMapBytes : 0);
  l.table_offset = l.bar_offset + (stages + wgrad_scale_stages(stages)) * 2 * 8;
  l.total = l.table_offset + (k_grouped ? 2 * (kMaxGroups + 1) * 4 : 0) + kSmemAlign;
  return l;
}

}  // namespace fp8gemm
