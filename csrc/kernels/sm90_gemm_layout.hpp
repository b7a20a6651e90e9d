// Plain C++ shared by host and device: kernel arguments and the shared-memory
// budget of one config. The heuristic and the kernel must agree on these numbers,
// so they live in one place.
#pragma once

#include <cstdint>

namespace fp8gemm {

// Which operand a cluster of two CTAs shares through TMA multicast: kA pairs two
// tiles of one m block (neighbouring n blocks), kB two tiles of one n block.
enum class Multicast : int { kNone = 0, kA = 1, kB = 2 };

// Runtime shape and weight-scale pointer of one dense 1D2D launch. A, B, the A scales
// (canonical layout) and D travel as TMA descriptors; the 128x128 weight scales are
// read through their strides, so any layout of them is served without a copy.
struct GemmArgs {
  int m, n, k;
  int sb_rows;  // ceil(n / 128): rows of the 128x128 weight-scale grid
  const float* sb;
  int64_t sb_stride_n, sb_stride_k;
  int accumulate;  // fp32 output only: out += product via TMA reduce-add
};

constexpr int kBlockK = 128;
constexpr int kSmemAlign = 1024;
// NOTES: 227 KB is the sm_90 per-block opt-in limit (232448 bytes).
constexpr int kMaxSmemBytes = 232448;

// Math warpgroups of a tile: one per 64 rows, at most two (256-row tiles run as two
// 128-row waves). Plus one producer warpgroup.
constexpr int gemm_1d2d_math_warpgroups(int block_m) { return block_m == 64 ? 1 : 2; }
constexpr int gemm_1d2d_threads(int block_m) { return (gemm_1d2d_math_warpgroups(block_m) + 1) * 128; }

struct SmemLayout {
  int a_offset, b_offset, d_offset, sa_offset, bar_offset, total;
};

// Dynamic shared memory of the 1D2D kernel: per stage an A tile (block_m x 128 B)
// and a B tile (block_n x 128 B), both 1024-aligned for the 128-byte swizzle; one
// output staging tile; per-stage A scales (block_m floats); a full and an empty
// mbarrier per stage; plus 1024 bytes of alignment slack.
constexpr SmemLayout gemm_1d2d_smem(int block_m, int block_n, int stages, int out_bytes) {
  SmemLayout l{};
  l.a_offset = 0;
  l.b_offset = l.a_offset + stages * block_m * kBlockK;
  l.d_offset = l.b_offset + stages * block_n * kBlockK;
  l.sa_offset = l.d_offset + block_m * block_n * out_bytes;
  l.bar_offset = l.sa_offset + stages * block_m * 4;
  l.total = l.bar_offset + stages * 2 * 8 + kSmemAlign;
  return l;
}

}  // namespace fp8gemm
