// Persistent tile schedulers, one per layout (dense, contiguous, masked, offset).
//
// Work is cut into output tiles of kBlockM x kBlockN. With a cluster of two CTAs
// sharing one operand through TMA multicast, tiles are handed out in pairs: the
// two CTAs of a cluster get the two tiles of one "unit" (same m block and
// neighbouring n blocks when A is shared, the reverse when B is shared), and every
// CTA of the cluster walks the same units in the same order, so both make the same
// decisions (skip, group) for a unit. Grouped layouts share only A (a tile pair along
// M could straddle two groups' weights).
//
// Every value read from device memory that the host never saw (m_indices, masked_m,
// offsets) is clamped into range before it becomes a coordinate: garbage there gives
// garbage rows of the output, never an access outside the operands or the output.
#pragma once

#include <cstdint>
#include <type_traits>

#include "sm90_gemm_layout.hpp"

namespace fp8gemm::sm90 {

// One output tile, in the coordinates the producer and the math warpgroups need.
struct Tile {
  int n_base;   // first column
  int group;    // index into B's groups (0 for dense)
  int a_row;    // first row in A's and D's 2-D row space
  int row_begin;  // rows of the tile before this (same space) are computed but not stored
  int row_end;    // rows at or past this (same space) belong to no valid output row of the tile
  int sa_row;   // A-scale tensor-map coordinates: row sa_row, K-block column sa_kb0 + kb
  int sa_kb0;
  bool skip;    // a contiguous-layout block of padding rows: nothing to compute
};

// NOTES: 16 units along M per raster group keep roughly 16 A row-panels and one wave's
// worth of B row-panels resident in L2 while a wave sweeps along N.
constexpr int kRasterGroupM = 16;

// Unit `unit` of a units_m x units_n grid in L2-friendly order: groups of kGroupM units
// along M, swept along N.
template <int kGroupM = kRasterGroupM>
__device__ __forceinline__ void raster(int unit, int units_m, int units_n, int& um, int& un) {
  const int group_span = kGroupM * units_n;
  const int group = unit / group_span;
  const int first_m = group * kGroupM;
  const int group_m = min(kGroupM, units_m - first_m);
  const int in_group = unit - group * group_span;
  um = first_m + in_group % group_m;
  un = in_group / group_m;
}

// Dense and contiguous: one grid of tiles over all M rows.
//
// Contiguous groups start on 128-row boundaries, so a 256-row tile may hold the end of one
// group and the start of the next. Such a "mixed" tile is computed twice, once per group,
// each pass storing only its own 128 rows: the second passes are extra units numbered after
// all the regular ones (mostly skipped: only mixed tiles have one), so every CTA gets its
// share of them.
template <int kBlockM, int kBlockN, Multicast kMulticast, Layout kLayout>
struct FlatScheduler {
  static constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  static constexpr bool kSplitPairs = kLayout == Layout::kContiguous && kBlockM == 256;
  // Per K block a wave of 132 tiles reads the A rows of the m blocks it spans and the B
  // rows of its n blocks: with 256-row tiles, 8 m blocks (x ~16 n blocks: 4160 rows) touch
  // fewer than 16 (x ~8: 5152 rows). NOTES: measured in benchmarks/NOTES.md #47.
  static constexpr int kGroupM = kBlockM == 256 ? 8 : kRasterGroupM;
  int units_m, units_n, num_units, base_units;
  int cluster_id, num_clusters, rank;
  const GemmArgs* args;

  __device__ __forceinline__ FlatScheduler(const GemmArgs& a, uint32_t cta_rank, const int*) : args(&a) {
    const int blocks_m = (a.m + kBlockM - 1) / kBlockM;
    const int blocks_n = (a.n + kBlockN - 1) / kBlockN;
    units_m = kMulticast == Multicast::kB ? blocks_m / 2 : blocks_m;
    units_n = kMulticast == Multicast::kA ? blocks_n / 2 : blocks_n;
    base_units = units_m * units_n;
    num_units = kSplitPairs ? 2 * base_units : base_units;
    cluster_id = blockIdx.x / kCluster;
    num_clusters = gridDim.x / kCluster;
    rank = static_cast<int>(cta_rank);
  }

  // The i-th tile of this CTA; false when it has none left.
  __device__ __forceinline__ bool tile(int i, Tile& t) const {
    int unit = cluster_id + i * num_clusters;
    if (unit >= num_units) return false;
    const bool second_pass = kSplitPairs && unit >= base_units;
    if (second_pass) unit -= base_units;
    int um, un;
    raster<kGroupM>(unit, units_m, units_n, um, un);
    const int m_block = kMulticast == Multicast::kB ? um * 2 + rank : um;
    const int n_block = kMulticast == Multicast::kA ? un * 2 + rank : un;
    t.n_base = n_block * kBlockN;
    t.a_row = m_block * kBlockM;
    t.row_begin = t.a_row;
    t.row_end = args->m;
    t.sa_row = t.a_row;
    t.sa_kb0 = 0;
    t.group = 0;
    t.skip = false;
    if constexpr (kLayout == Layout::kContiguous) {
      // A 128-row block's group is its first row's (groups start on 128-row boundaries, so
      // such a block holds one group and then padding). -1 or anything out of range: a
      // padding block, skipped.
      const int* m_indices = static_cast<const int*>(args->group_info);
      const int g0 = __ldg(m_indices + t.a_row);
      const bool valid0 = g0 >= 0 && g0 < args->num_groups;
      if constexpr (kSplitPairs) {
        const bool has_half = t.a_row + 128 < args->m;
        const int g1 = has_half ? __ldg(m_indices + t.a_row + 128) : -1;
        const bool valid1 = g1 >= 0 && g1 < args->num_groups;
        const bool mixed = valid1 && (!valid0 || g1 != g0);
        if (second_pass) {  // the second group of a mixed tile: its 128 rows only
          t.skip = !mixed;
          t.group = mixed ? g1 : 0;
          t.row_begin = t.a_row + 128;
        } else {
          t.skip = !valid0;
          t.group = valid0 ? g0 : 0;
          // Only the first half is this group's when the second half is another group's
          // or padding (a padding block is never written).
          if (has_half && (mixed || !valid1)) t.row_end = min(t.row_end, t.a_row + 128);
        }
      } else {
        t.skip = !valid0;
        t.group = valid0 ? g0 : 0;
      }
    }
    return true;
  }
};


// Masked and offset: a variable number of m blocks per group, known only on the device.
// The group table in shared memory (built once per CTA by build_group_table) holds each
// group's row bound and the prefix sum of m blocks; units are numbered group by group
// (every unit of group g before any of g + 1), rasterised within a group, and each CTA
// walks forward through the table with a cursor.
template <int kBlockM, int kBlockN, Multicast kMulticast, Layout kLayout>
struct GroupedScheduler {
  static_assert(kMulticast != Multicast::kB, "grouped layouts share only A across a cluster");
  static constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  int units_n, num_kb;
  int cluster_id, num_clusters, rank;
  const GemmArgs* args;
  const int* bound;   // masked: valid rows of group g; offset: first row of group g (g <= G)
  const int* prefix;  // m blocks of groups [0, g) (g <= G)
  int cursor = 0;     // the group of the last unit handed out (units only move forward)

  __device__ __forceinline__ GroupedScheduler(const GemmArgs& a, uint32_t cta_rank, const int* table) : args(&a) {
    const int blocks_n = (a.n + kBlockN - 1) / kBlockN;
    units_n = kMulticast == Multicast::kA ? blocks_n / 2 : blocks_n;
    num_kb = (a.k + kBlockK - 1) / kBlockK;
    cluster_id = blockIdx.x / kCluster;
    num_clusters = gridDim.x / kCluster;
    rank = static_cast<int>(cta_rank);
    bound = table;
    prefix = table + kMaxGroups + 1;
  }

  __device__ __forceinline__ bool tile(int i, Tile& t) {
    const int unit = cluster_id + i * num_clusters;
    const int groups = args->num_groups;
    if (unit >= prefix[groups] * units_n) return false;
    while (unit >= prefix[cursor + 1] * units_n) ++cursor;
    const int g = cursor;
    int um, un;
    raster(unit - prefix[g] * units_n, prefix[g + 1] - prefix[g], units_n, um, un);
    const int n_block = kMulticast == Multicast::kA ? un * 2 + rank : un;
    t.n_base = n_block * kBlockN;
    t.group = g;
    t.skip = false;
    if constexpr (kLayout == Layout::kMasked) {
      t.a_row = g * args->mmax + um * kBlockM;
      t.row_begin = t.a_row;
      t.row_end = g * args->mmax + bound[g];
      t.sa_row = um * kBlockM;
      t.sa_kb0 = g * num_kb;
    } else {
      t.a_row = bound[g] + um * kBlockM;
      t.row_begin = t.a_row;
      t.row_end = bound[g + 1];
      t.sa_row = t.a_row;
      t.sa_kb0 = 0;
    }
    return true;
  }
};


// The scheduler of a layout.
// A tile of the stream-K scheduler: a K range of one output tile and its part in the fix-up.
struct SkTile : Tile {
  int kb_begin, kb_end;  // the K blocks this CTA computes
  int sk_slot;           // >= 0: a partial sum (the range starts past K block 0): written to
                         // this CTA's workspace slot, not stored
  int sk_first, sk_last; // the range starts at K block 0 and ends early: the partials of the
                         // CTAs sk_first..sk_last with a range (has_range: the rest of K)
                         // are added before the store
};

// Stream-K over the last round (dense layout, no cluster; GemmArgs::sk_*). The first
// sk_dp_tiles tiles (whole rounds of the grid) go out as FlatScheduler hands them out. The K
// blocks of the R tiles left, R x Kb of them in tile-major order, are cut into gridDim.x
// contiguous ranges, one per CTA, taken after its whole tiles: with R < gridDim.x a range is
// shorter than a tile, so it holds the end of one tile and perhaps the start of the next.
// The CTA whose range holds a tile's K block 0 stores the tile: that piece ends its range, so
// the CTAs after it, whose ranges start with the rest of that tile, have written their
// partials by then. A CTA only ever waits for higher-numbered CTAs, whose own waits go higher
// still: no cycle. Partials are added in CTA order: the result is deterministic.
// NOTES: benchmarks/NOTES.md #85 (the last round's idle SMs are the only idle time in a call).
template <int kBlockM, int kBlockN>
struct StreamKScheduler {
  int m, units_m, units_n, dp_rounds, dp_tiles, num_kb, cta, ctas;
  int64_t sk_work, lo, hi;

  __device__ __forceinline__ StreamKScheduler(const GemmArgs& a, uint32_t, const int*) {
    m = a.m;
    units_m = (a.m + kBlockM - 1) / kBlockM;
    units_n = (a.n + kBlockN - 1) / kBlockN;
    num_kb = (a.k + kBlockK - 1) / kBlockK;
    cta = blockIdx.x;
    ctas = gridDim.x;
    const int units = units_m * units_n;
    // The host's value, clamped: whole rounds, at most every tile.
    dp_tiles = min(max(a.sk_dp_tiles, 0) / ctas * ctas, units / ctas * ctas);
    dp_rounds = dp_tiles / ctas;
    sk_work = static_cast<int64_t>(units - dp_tiles) * num_kb;
    lo = sk_work * cta / ctas;
    hi = sk_work * (cta + 1) / ctas;
  }
  // The CTA whose range holds K block x of the stream-K work; whether CTA c has a range (with
  // fewer K blocks than CTAs some have none, and write no partial).
  __device__ __forceinline__ int owner(int64_t x) const { return static_cast<int>(((x + 1) * ctas - 1) / sk_work); }
  __device__ __forceinline__ bool has_range(int c) const { return sk_work * c / ctas < sk_work * (c + 1) / ctas; }

  __device__ __forceinline__ bool tile(int i, SkTile& t) const {
    int unit;
    t.kb_begin = 0;
    t.kb_end = num_kb;
    t.sk_slot = -1;
    t.sk_first = 0;
    t.sk_last = -1;
    if (i < dp_rounds) {
      unit = cta + i * ctas;
    } else {
      const int piece = i - dp_rounds;
      if (piece > 1 || lo >= hi) return false;
      int64_t tau = lo / num_kb;
      int64_t begin = lo - tau * num_kb;
      if (piece == 1) {
        ++tau;
        begin = 0;
        if (tau * num_kb >= hi) return false;
      }
      const int64_t end = min(static_cast<int64_t>(num_kb), hi - tau * num_kb);
      t.kb_begin = static_cast<int>(begin);
      t.kb_end = static_cast<int>(end);
      if (begin > 0) {
        t.sk_slot = cta;
      } else if (end < num_kb) {
        t.sk_first = owner(tau * num_kb + end);
        t.sk_last = owner(tau * num_kb + num_kb - 1);
      }
      unit = dp_tiles + static_cast<int>(tau);
    }
    int um, un;
    raster<kRasterGroupM>(unit, units_m, units_n, um, un);
    t.n_base = un * kBlockN;
    t.a_row = um * kBlockM;
    t.row_begin = t.a_row;
    t.row_end = m;
    t.sa_row = t.a_row;
    t.sa_kb0 = 0;
    t.group = 0;
    t.skip = false;
    return true;
  }
};

template <int kBlockM, int kBlockN, Multicast kMulticast, Layout kLayout>
using Scheduler = std::conditional_t<layout_has_group_table(kLayout),
                                     GroupedScheduler<kBlockM, kBlockN, kMulticast, kLayout>,
                                     FlatScheduler<kBlockM, kBlockN, kMulticast, kLayout>>;

// Builds the group table in shared memory; every thread of the CTA calls it, and a
// __syncthreads() must follow before the table is read.
//   masked: bound[g] = clamp(masked_m[g], 0, Mmax).
//   offset: bound[g] = running max of clamp(offsets[g], 0, M), so groups never overlap
//           and never leave [0, M).
//   prefix[g] = sum over groups h < g of ceil(rows(h) / kBlockM).
template <int kBlockM, Layout kLayout>
__device__ __forceinline__ void build_group_table(const GemmArgs& args, int* table) {
  int* bound = table;
  int* prefix = table + kMaxGroups + 1;
  const int groups = args.num_groups;
  constexpr bool kMasked = kLayout == Layout::kMasked;
  const int entries = kMasked ? groups : groups + 1;
  const int limit = kMasked ? args.mmax : args.m;
  for (int g = threadIdx.x; g < entries; g += blockDim.x) {
    int64_t v;
    if (args.group_info_64) {
      v = static_cast<const int64_t*>(args.group_info)[g];
    } else {
      v = static_cast<const int*>(args.group_info)[g];
    }
    bound[g] = static_cast<int>(v < 0 ? 0 : (v > limit ? limit : v));
  }
  __syncthreads();
  // Warp 0 builds the sums. The warp index comes through a shuffle so that the compiler
  // knows the branch is warp-uniform: with `threadIdx.x >= 32` it treated everything after
  // this call as possibly divergent, and the masked and offset main loops rebuilt every
  // wgmma descriptor with four R2UR (97 in the 128x128 loop, against the dense loop's 17)
  // and ran 1.2x the dense kernel's time for the same tiles (benchmarks/NOTES.md #60).
  if (__shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x / 32), 0) != 0) return;
  const int lane = threadIdx.x;
  if constexpr (!kMasked) {
    // Running max (an inclusive max-scan in chunks of 32).
    int carry = 0;
    for (int base = 0; base < entries; base += 32) {
      const int g = base + lane;
      int v = g < entries ? bound[g] : 0;
#pragma unroll
      for (int d = 1; d < 32; d *= 2) {
        const int o = __shfl_up_sync(0xffffffffu, v, d);
        if (lane >= d) v = max(v, o);
      }
      v = max(v, carry);
      if (g < entries) bound[g] = v;
      carry = __shfl_sync(0xffffffffu, v, 31);
    }
    __syncwarp();
  }
  int carry = 0;
  if (lane == 0) prefix[0] = 0;
  for (int base = 0; base < groups; base += 32) {
    const int g = base + lane;
    int rows = 0;
    if (g < groups) rows = kMasked ? bound[g] : bound[g + 1] - bound[g];
    int v = (rows + kBlockM - 1) / kBlockM;
#pragma unroll
    for (int d = 1; d < 32; d *= 2) {
      const int o = __shfl_up_sync(0xffffffffu, v, d);
      if (lane >= d) v += o;
    }
    v += carry;
    if (g < groups) prefix[g + 1] = v;
    carry = __shfl_sync(0xffffffffu, v, 31);
  }
}

}  // namespace fp8gemm::sm90
