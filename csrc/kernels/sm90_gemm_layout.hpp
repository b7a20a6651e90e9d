// Plain C++ shared by host and device: kernel arguments and the shared-memory
// budget of one config. The heuristic and the kernel must agree on these numbers,
// so they live in one place.
#pragma once

#include <cstdint>

namespace fp8gemm {

// Which operand a cluster of two CTAs shares through TMA multicast: kA pairs two
// tiles of one m block (neighbouring n blocks), kB two tiles of one n block.
enum class Multicast : int { kNone = 0, kA = 1, kB = 2 };

// How the rows of A (and D) map to groups of B, one block scheduler each:
// kDense: one group. kContiguous: A [M, K] with m_indices[M] naming each row's group
// (groups 128-row aligned, -1 = padding). kMasked: A [G, Mmax, K], masked_m[G] valid
// rows per group. kOffset: A [M, K] sorted by group, rows [offsets[g], offsets[g+1]).
enum class Layout : int { kDense = 0, kContiguous = 1, kMasked = 2, kOffset = 3 };

// NOTES: the masked and offset schedulers keep per-group row bounds and tile prefix sums
// in shared memory (8 KB at this size); 1024 covers every published MoE (256-512 experts).
constexpr int kMaxGroups = 1024;
constexpr bool layout_has_group_table(Layout l) { return l == Layout::kMasked || l == Layout::kOffset; }

// The A scales are loaded by TMA along M, and a TMA box must start on a 16-byte boundary
// of its innermost dimension (4 floats). Tiles of the offset layout start on any row, so
// their box starts at the row rounded down to a multiple of 4 and is 4 floats longer.
constexpr int sa_align(Layout l) { return l == Layout::kOffset ? 4 : 1; }
constexpr int sa_pad(Layout l) { return l == Layout::kOffset ? 4 : 0; }
// Floats per pipeline stage of the A-scale buffer: TMA writes shared memory at 128-byte
// aligned addresses, so the box is rounded up to a multiple of 32 floats.
constexpr int sa_stage_floats(int block_m, Layout l) { return (block_m + sa_pad(l) + 31) / 32 * 32; }

// Row-major [rows, Kb] A scales read in place: a TMA box brings a tile's rows x `sa_group`
// K blocks (4..32; each row's piece is 16..128 contiguous bytes) into one of kSaSlots
// slots of a ring of its own, once per sa_group K blocks. A box per K block (one
// column) would cost one TMA request per row per K block, as many as the A tile's own
// (measured: 1.0-1.6x the canonical layout's time, benchmarks/NOTES.md #44).
// NOTES: two slots: the producer fills the next group's box while the math warpgroups
// read the current one; it waits only when it runs more than a group ahead.
constexpr int kSaSlots = 2;
// Bytes of the A-scale buffers: per stage (canonical), or the row-major ring.
constexpr int sa_buffer_bytes(int block_m, int stages, Layout l, int sa_group) {
  return sa_group > 0 ? kSaSlots * block_m * sa_group * 4 : stages * sa_stage_floats(block_m, l) * 4;
}

// Runtime shape and weight-scale pointer of one dense 1D2D launch. A, B, the A scales
// (canonical layout) and D travel as TMA descriptors; the 128x128 weight scales are
// read through their strides, so any layout of them is served without a copy.
struct GemmArgs {
  int m, n, k;
  int sb_rows;  // ceil(n / 128): rows of the 128x128 weight-scale grid
  const float* sb;
  int64_t sb_stride_n, sb_stride_k;
  int accumulate;  // fp32 output only: out += product via TMA reduce-add
  // Grouped layouts. B is read as [G * N, K]; the weight scales of group g start at
  // sb + g * sb_stride_g.
  int num_groups;
  int64_t sb_stride_g;
  const void* group_info;  // m_indices (contiguous), masked_m (masked), offsets (offset): device memory
  int group_info_64;       // offsets are int64
  int mmax;                // masked: rows per group of A and D
  // Masked and offset: rows that end a group mid-tile are stored through this pointer
  // (row-predicated), never past the group's last row.
  void* d;
  int64_t ldd;  // elements
  // Row-major A scales (sa_group > 0 configs): 0 reads a box of sa_group columns per group of
  // K blocks; > 0, the row stride (<= sa_group floats, Kb <= sa_group): one box of the tile's
  // whole rows, through a tensor map that sees the scales as 128-byte lines (fewer TMA
  // requests than one per row when the rows are shorter than a line).
  int sa_pitch;
  // Stream-K configs (dense): the tiles of the whole rounds (a multiple of the grid) and the
  // fix-up workspace: a flag per CTA and math warpgroup (zero at launch), then a slot of
  // block_m x block_n floats per CTA for its partial sum (sm90_scheduler.cuh, StreamKScheduler).
  int sk_dp_tiles;
  unsigned* sk_flags;
  float* sk_partials;
};

constexpr int kBlockK = 128;
constexpr int kSmemAlign = 1024;
// NOTES: 227 KB is the sm_90 per-block opt-in limit (232448 bytes).
constexpr int kMaxSmemBytes = 232448;

// Math warpgroups of a tile: one per 64 rows, at most two (256-row tiles run as two
// 128-row waves). Plus one producer warpgroup.
constexpr int gemm_1d2d_math_warpgroups(int block_m) { return block_m == 64 ? 1 : 2; }
constexpr int gemm_1d2d_threads(int block_m) { return (gemm_1d2d_math_warpgroups(block_m) + 1) * 128; }

// Accumulator sets the deferred main loop keeps in flight (block_m <= 128, block_n <= 128):
// (depth + 1) sets of block_n / 2 floats plus ~56 other registers within the math
// warpgroups' budget (240 with one math warpgroup, 232 with two), at most 4.
constexpr int deferred_depth(int block_n, int math_warpgroups) {
  const int budget = (math_warpgroups == 1 ? 240 : 232) - 56;
  const int depth = budget / (block_n / 2) - 1;
  return depth > 4 ? 4 : (depth < 2 ? 2 : depth);
}

// Bytes per row of one staged output chunk of the 1D2D epilogue (64 rows x this many bytes,
// one TMA store each, swizzled with the same width): the widest of 128 / 64 / 32 that
// divides a tile row (block_n x the output's element size). The host's output tensor map
// uses the same box and swizzle.
// NOTES: 32-byte chunks took 16 stores per 256x128 bf16 tile and warpgroup, issued by one
// thread while the other warps of its warpgroup waited at the next tile's first wgmma
// (ncu: 7.5% of the samples at (4096, 32768, 512)); 128-byte chunks take 4
// (benchmarks/NOTES.md #47).
constexpr int store_chunk_bytes(int block_n, int out_bytes) {
  return (block_n * out_bytes) % 128 == 0 ? 128 : ((block_n * out_bytes) % 64 == 0 ? 64 : 32);
}

struct SmemLayout {
  int a_offset, b_offset, d_offset, sa_offset, bar_offset, group_offset, total;
};

// Dynamic shared memory of the 1D2D kernel: per stage an A tile (block_m x 128 B)
// and a B tile (block_n x 128 B), both 1024-aligned for the 128-byte swizzle; one
// output staging tile; the A scales (sa_buffer_bytes); a full and an empty mbarrier per
// stage (and per row-major scale slot); the group table of the masked and offset layouts (row bounds and
// tile prefix sums, 2 x (kMaxGroups + 1) ints); plus 1024 bytes of alignment slack.
constexpr SmemLayout gemm_1d2d_smem(int block_m, int block_n, int stages, int out_bytes,
                                    Layout layout = Layout::kDense, int sa_group = 0) {
  SmemLayout l{};
  l.a_offset = 0;
  l.b_offset = l.a_offset + stages * block_m * kBlockK;
  l.d_offset = l.b_offset + stages * block_n * kBlockK;
  l.sa_offset = l.d_offset + block_m * block_n * out_bytes;
  l.bar_offset = l.sa_offset + sa_buffer_bytes(block_m, stages, layout, sa_group);
  l.group_offset = l.bar_offset + (stages + (sa_group > 0 ? kSaSlots : 0)) * 2 * 8;
  l.total = l.group_offset + (layout_has_group_table(layout) ? 2 * (kMaxGroups + 1) * 4 : 0) + kSmemAlign;
  return l;
}

}  // namespace fp8gemm
