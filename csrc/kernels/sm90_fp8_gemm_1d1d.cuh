// Weight-gradient FP8 GEMM, "1D1D" recipe: D[M,N] (fp32) = sum over 128-wide K blocks kb of
// (A_kb B_kb^T) * sa[m, kb] * sb[n, kb], with both operands scaled 1x128 along K (the token
// dimension of a weight gradient), written to D or added into it (D read once, written
// once, by the TMA reduce-add of the copy engine).
//
// Structure (the spine of the 1D2D kernel): a persistent grid; warpgroup kMathWG (the last)
// is the producer, whose first warp feeds a kStages-deep shared-memory ring through TMA: A and
// B tiles (one of them multicast across a cluster pair) and both scale vectors of each K block
// (sa: block_m floats, sb: block_n floats, from the K-block-major [Kb, M] / [Kb, N] layouts).
// One or two math warpgroups own 64 rows each; they keep kDepth accumulator sets in flight
// and promote the oldest into the fp32 sum with the per-row sa times the per-column sb
// (read from shared memory: every thread needs the scales of its own columns), then stage
// the tile in shared memory and store it (or reduce-add it) with TMA, one chunk per K block
// of the next tile rather than all at once (NOTES #38). D is addressed as a
// 3-D tensor [G, M, N], so a tile's rows never spill into the next group. (Accumulating by
// prefetching the old D tile and storing measured no faster than the reduce-add:
// benchmarks/NOTES.md #32.)
//
// K-grouped (kKGrouped): group g's A is the row-major [M, K_g] block that starts at element
// M * sum_{h<g} K_h of a flat buffer; its row stride K_g differs per group and is known only
// on the device (ks). Each CTA therefore rebuilds A's and B's tensor maps on the device when
// its tiles move to a new group: the host-built map is the template (box, swizzle, dtype);
// base address, K extent and row stride are replaced in shared memory (tensormap.replace),
// the result is copied to the CTA's own entry of a pool in this module's global memory with
// the release fence of the tensor-map proxy (tensormap.cp_fenceproxy), and acquired before the
// first load through it. A CTA claims a free pool entry (an atomic flag) after the grid
// dependency wait and frees it at its end, once every load through its maps has landed:
// no workspace per call, and concurrent launches (streams, graphs) never share an entry.
// A CTA waits for an entry only while more CTAs are resident than the pool holds, which no
// Hopper part allows (one CTA per SM; kWgradMapPoolEntries), and those CTAs run to their
// end without waiting on it, so the wait always ends (a dependent launch's CTAs claim only
// after their grid dependency wait, so they hold none while they wait on this grid).
// Two slots per operand alternate; a slot is rebuilt only once every load that read it
// has landed. ks values are clamped on the device (negative -> 0, rounded down to 16, the
// running sum to the buffer's K and K-block extents): the maps never reach past the operands,
// and TMA zero-fills everything outside a map, so garbage ks gives garbage sums, never a fault.
#pragma once

#include <cuda.h>

#include "sm90_gemm_layout.hpp"
#include "sm90_ptx.cuh"
#include "sm90_scheduler.cuh"
#include "sm90_wgmma_fp8.cuh"  // generated at build time: WgmmaFp8<N>
#include "sm90_wgrad_layout.hpp"

namespace fp8gemm::sm90 {

// ---------------------------------------------------------------- PTX used only here
__device__ __forceinline__ void tma_store_3d(const CUtensorMap* map, const void* src, int c0, int c1, int c2) {
  asm volatile("cp.async.bulk.tensor.3d.global.shared::cta.bulk_group [%0, {%2, %3, %4}], [%1];" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_addr(src)), "r"(c0), "r"(c1), "r"(c2)
               : "memory");
}

__device__ __forceinline__ void tma_reduce_add_3d(const CUtensorMap* map, const void* src, int c0, int c1, int c2) {
  asm volatile("cp.reduce.async.bulk.tensor.3d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4}], [%1];" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_addr(src)), "r"(c0), "r"(c1), "r"(c2)
               : "memory");
}

// Tensor-map fields of a map staged in shared memory (`smap`: its shared address).
__device__ __forceinline__ void tensormap_set_address(uint32_t smap, const void* base) {
  asm volatile("tensormap.replace.tile.global_address.shared::cta.b1024.b64 [%0], %1;" ::"r"(smap),
               "l"(reinterpret_cast<uint64_t>(base))
               : "memory");
}
__device__ __forceinline__ void tensormap_set_inner_dim(uint32_t smap, uint32_t extent) {
  asm volatile("tensormap.replace.tile.global_dim.shared::cta.b1024.b32 [%0], 0, %1;" ::"r"(smap), "r"(extent)
               : "memory");
}
// Byte stride between consecutive rows (dimension 1); a multiple of 16.
__device__ __forceinline__ void tensormap_set_row_stride(uint32_t smap, uint64_t bytes) {
  asm volatile("tensormap.replace.tile.global_stride.shared::cta.b1024.b64 [%0], 0, %1;" ::"r"(smap), "l"(bytes)
               : "memory");
}
// Warp-collective: copy a 128-byte map from shared to global memory and release it to the
// tensor-map proxy.
__device__ __forceinline__ void tensormap_publish(void* gmap, uint32_t smap) {
  asm volatile(
      "tensormap.cp_fenceproxy.global.shared::cta.tensormap::generic.release.gpu.sync.aligned [%0], [%1], 128;" ::"l"(
          reinterpret_cast<uint64_t>(gmap)),
      "r"(smap)
      : "memory");
}
__device__ __forceinline__ void tensormap_acquire(const void* gmap) {
  asm volatile("fence.proxy.tensormap::generic.acquire.gpu [%0], 128;" ::"l"(reinterpret_cast<uint64_t>(gmap))
               : "memory");
}

// ---------------------------------------------------------------- tensor-map pool (k-grouped)
// Per module (each k-grouped config is its own cubin), per device.
__device__ __align__(128) uint8_t g_wgrad_map_pool[kWgradMapPoolEntries * kWgradMapsPerCta * kTensorMapBytes];
__device__ unsigned g_wgrad_map_pool_busy[kWgradMapPoolEntries];

// Claim a free entry, starting at this CTA's index (free entries are found at once unless
// launches overlap).
__device__ __forceinline__ int wgrad_map_pool_claim() {
  for (int i = static_cast<int>(blockIdx.x % kWgradMapPoolEntries);; i = (i + 1) % kWgradMapPoolEntries) {
    if (atomicCAS(&g_wgrad_map_pool_busy[i], 0u, 1u) == 0u) {
      __threadfence();
      return i;
    }
  }
}

__device__ __forceinline__ void wgrad_map_pool_free(int entry) {
  __threadfence();
  atomicExch(&g_wgrad_map_pool_busy[entry], 0u);
}

// ---------------------------------------------------------------- scheduling
struct WgradTile {
  int m_base, n_base, group;
  int num_kb;  // K blocks of the tile's group (0: an empty group)
  int kb0;     // the group's first row in the K-block-major scales
};

// Tiles of all groups in one persistent sweep: every group has the same M x N grid of tiles
// (units of two tiles with multicast), numbered group by group and rasterised within a group.
// Both CTAs of a cluster walk the same units, so a pair always shares a group.
template <int kBlockM, int kBlockN, Multicast kMulticast, bool kKGrouped>
struct WgradScheduler {
  static constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  int units_m, units_n, per_group, num_units, num_kb;
  int cluster_id, num_clusters, rank;
  const int* kboff;  // k-grouped: K-block offset of group g (g <= G), clamped

  __device__ __forceinline__ WgradScheduler(const WgradArgs& a, uint32_t cta_rank, const int* kb_offsets) {
    const int blocks_m = (a.m + kBlockM - 1) / kBlockM;
    const int blocks_n = (a.n + kBlockN - 1) / kBlockN;
    units_m = kMulticast == Multicast::kB ? blocks_m / 2 : blocks_m;
    units_n = kMulticast == Multicast::kA ? blocks_n / 2 : blocks_n;
    per_group = units_m * units_n;
    num_units = per_group * a.num_groups;
    num_kb = (a.k + kBlockK - 1) / kBlockK;
    cluster_id = blockIdx.x / kCluster;
    num_clusters = gridDim.x / kCluster;
    rank = static_cast<int>(cta_rank);
    kboff = kb_offsets;
  }

  __device__ __forceinline__ bool tile(int i, WgradTile& t) const {
    const int unit = cluster_id + i * num_clusters;
    if (unit >= num_units) return false;
    const int g = unit / per_group;
    int um, un;
    raster(unit - g * per_group, units_m, units_n, um, un);
    t.m_base = (kMulticast == Multicast::kB ? um * 2 + rank : um) * kBlockM;
    t.n_base = (kMulticast == Multicast::kA ? un * 2 + rank : un) * kBlockN;
    t.group = g;
    if constexpr (kKGrouped) {
      t.kb0 = kboff[g];
      t.num_kb = kboff[g + 1] - t.kb0;
    } else {
      t.kb0 = 0;
      t.num_kb = num_kb;
    }
    return true;
  }
};

// The k-grouped group table in shared memory, built by warp 0 (a __syncthreads() must follow):
//   koff[g]  = min(sum_{h<g} K'_h, k_total), K'_h = ks[h] clamped to >= 0, rounded down to 16;
//   kboff[g] = min(sum_{h<g} ceil(K''_h / 128), kb_total), K''_h = koff[h+1] - koff[h].
// Group g reads K columns [koff[g], koff[g+1]) and scale rows [kboff[g], kboff[g+1]).
__device__ __forceinline__ void build_k_table(const WgradArgs& args, int* koff, int* kboff) {
  if (threadIdx.x >= 32) return;
  const int lane = threadIdx.x;
  const int groups = args.num_groups;
  if (lane == 0) {
    koff[0] = 0;
    kboff[0] = 0;
  }
  long long carry = 0;
  for (int base = 0; base < groups; base += 32) {
    const int g = base + lane;
    long long v = 0;
    if (g < groups) {
      const int raw = __ldg(args.ks + g);
      v = raw < 0 ? 0 : (raw & ~15);
    }
#pragma unroll
    for (int d = 1; d < 32; d *= 2) {
      const long long o = __shfl_up_sync(0xffffffffu, v, d);
      if (lane >= d) v += o;
    }
    v += carry;
    if (g < groups) koff[g + 1] = static_cast<int>(v < args.k_total ? v : args.k_total);
    carry = __shfl_sync(0xffffffffu, v, 31);
  }
  __syncwarp();
  int kcarry = 0;
  for (int base = 0; base < groups; base += 32) {
    const int g = base + lane;
    int v = 0;
    if (g < groups) v = (koff[g + 1] - koff[g] + kBlockK - 1) / kBlockK;
#pragma unroll
    for (int d = 1; d < 32; d *= 2) {
      const int o = __shfl_up_sync(0xffffffffu, v, d);
      if (lane >= d) v += o;
    }
    v += kcarry;
    if (g < groups) kboff[g + 1] = min(v, args.kb_total);
    kcarry = __shfl_sync(0xffffffffu, v, 31);
  }
}

// ---------------------------------------------------------------- kernel
// The kernel body; each config's `extern "C"` entry point (generated, csrc/gen_kernels.py)
// declares __launch_bounds__(wgrad_threads(kBlockM), 1) and passes its __grid_constant__
// tensor maps here by reference (see fp8_gemm_1d2d_body).
template <int kBlockM, int kBlockN, int kStages, Multicast kMulticast, bool kKGrouped>
__device__ __forceinline__ void fp8_wgrad_1d1d_body(const CUtensorMap& tmap_a, const CUtensorMap& tmap_b,
                                                    const CUtensorMap& tmap_sa, const CUtensorMap& tmap_sb,
                                                    const CUtensorMap& tmap_d, const WgradArgs& args) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kBlockM == 64 || kBlockM == 128, "block_m");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 128, "block_n");
  constexpr int kMathWG = wgrad_math_warpgroups(kBlockM);
  constexpr int kMathThreads = kMathWG * 128;
  constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  constexpr uint32_t kTileA = kBlockM * kBlockK;
  constexpr uint32_t kTileB = kBlockN * kBlockK;
  constexpr int kSaStride = wgrad_scale_floats(kBlockM);
  constexpr int kSbStride = wgrad_scale_floats(kBlockN);
  constexpr int kScaleStages = wgrad_scale_stages(kStages);
  constexpr uint32_t kScaleBytes = (kBlockM + kBlockN) * sizeof(float);
  constexpr WgradSmem kSmem = wgrad_smem(kBlockM, kBlockN, kStages, kKGrouped);
  constexpr int kChunkCols = 8;           // fp32 columns per 32-byte staged row chunk
  constexpr int kChunkBytes = 64 * 32;    // one 64-row x 32-byte staged chunk
  // NOTES: accumulator sets in flight: as in the 1D2D kernel's deferred loop, as many as
  // the registers hold beside the promoted sum and ~56 others (2 for 128-wide tiles).
  constexpr int kDepth = deferred_depth(kBlockN, kMathWG);
  // NOTES: register split after setmaxnreg, as in the 1D2D kernel. The split must fit in
  // what the CTA was launched with (65536 / threads, rounded down to 8, per thread: 168 x 384
  // for two math warpgroups), not in the whole register file: a setmaxnreg.inc beyond it
  // waits forever (measured: a producer at 48 hung every 2-warpgroup config).
  constexpr uint32_t kMathRegs = kMathWG == 1 ? 240 : 232;
  constexpr uint32_t kProducerRegs = kMathWG == 1 ? 56 : 40;
  constexpr uint32_t kThreads = kMathThreads + 128;
  static_assert(kMathRegs * kMathThreads + kProducerRegs * 128 <= (65536 / kThreads) / 8 * 8 * kThreads,
                "register split exceeds the launch allocation");

  // A base known at compile time keeps every shared-memory address a constant offset (as in
  // the 1D2D kernel, NOTES #24); the window starts 1024-byte aligned on sm_90, checked once.
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  uint8_t* smem = smem_raw;
  uint8_t* smem_a = smem + kSmem.a_offset;
  uint8_t* smem_b = smem + kSmem.b_offset;
  uint8_t* smem_d = smem + kSmem.d_offset;
  float* smem_sa = reinterpret_cast<float*>(smem + kSmem.sa_offset);
  float* smem_sb = reinterpret_cast<float*>(smem + kSmem.sb_offset);
  uint8_t* smem_maps = smem + kSmem.map_offset;
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kSmem.bar_offset);  // A/B ring
  uint64_t* empty = full + kStages;
  uint64_t* scale_full = empty + kStages;  // scale ring
  uint64_t* scale_empty = scale_full + kScaleStages;
  int* koff = reinterpret_cast<int*>(smem + kSmem.table_offset);
  int* kboff = koff + kMaxGroups + 1;

  // Through a shuffle so the compiler treats it as warp-uniform: the wgmma descriptors
  // derived from it then live in uniform registers (NOTES #37).
  const int warpgroup = __shfl_sync(0xffffffff, static_cast<int>(threadIdx.x / 128), 0);
  const int lane = threadIdx.x % 32;
  const uint32_t rank = kCluster > 1 ? cluster_cta_rank() : 0;

  if (threadIdx.x == kMathThreads) {
    if (smem_addr(smem_raw) % kSmemAlign != 0) __trap();  // never seen; a loud stop, not wrong sums
    if constexpr (!kKGrouped) {
      tma_prefetch_descriptor(&tmap_a);
      tma_prefetch_descriptor(&tmap_b);
    }
    tma_prefetch_descriptor(&tmap_sa);
    tma_prefetch_descriptor(&tmap_sb);
    tma_prefetch_descriptor(&tmap_d);
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], kMathWG * 4 * kCluster);
    }
#pragma unroll
    for (int s = 0; s < kScaleStages; ++s) {
      mbarrier_init(&scale_full[s], 1);
      mbarrier_init(&scale_empty[s], kMathWG * 4);  // the scales are this CTA's own
    }
    fence_barrier_init();
  }
  griddep_wait();
  griddep_launch_dependents();
  if constexpr (kKGrouped) build_k_table(args, koff, kboff);
  if constexpr (kCluster > 1) {
    cluster_sync();
  } else {
    __syncthreads();
  }

  const WgradScheduler<kBlockM, kBlockN, kMulticast, kKGrouped> sched(args, rank, kboff);
  int pool_entry = 0;  // k-grouped: this CTA's tensor-map pool entry (the producer warp's)

  if (warpgroup == kMathWG) {
    // ------------------------------------------------------------ producer (one warp)
    regs_decrease<kProducerRegs>();
    if (threadIdx.x / 32 == kMathWG * 4) {
      const bool leader = lane == 0;
      uint32_t issued = 0;  // K-block loads issued so far (stage = issued % kStages)
      const CUtensorMap* map_a = &tmap_a;
      const CUtensorMap* map_b = &tmap_b;
      if constexpr (kKGrouped) {
        if (leader) pool_entry = wgrad_map_pool_claim();
        pool_entry = __shfl_sync(0xffffffff, pool_entry, 0);
      }
      int cur_group = -1, slot = 1;
      int64_t slot_last[2] = {-1, -1};  // the last load issued through each slot's maps
      WgradTile t;
      for (int i = 0; sched.tile(i, t); ++i) {
        if (t.num_kb == 0) continue;
        if constexpr (kKGrouped) {
          if (t.group != cur_group) {
            cur_group = t.group;
            slot ^= 1;
            // Every load that read this slot's maps must have landed before they change:
            // loads up to issued - 1 - kStages are known consumed; a later one is waited for.
            const int64_t last = slot_last[slot];
            if (leader && last >= 0 && last + kStages >= static_cast<int64_t>(issued)) {
              mbarrier_wait(&full[last % kStages], static_cast<uint32_t>(last / kStages) & 1);
            }
            __syncwarp();
            const int k0 = koff[t.group];
            const int kg = koff[t.group + 1] - k0;
            uint8_t* staged = smem_maps;  // [A map | B map], 128 B each
            // The template maps (kernel parameters) into shared memory, 8 bytes per lane.
            {
              const uint64_t* src = reinterpret_cast<const uint64_t*>(lane < 16 ? &tmap_a : &tmap_b);
              reinterpret_cast<uint64_t*>(staged)[lane] = src[lane % 16];
            }
            __syncwarp();
            const uint32_t sa_map = smem_addr(staged), sb_map = sa_map + kTensorMapBytes;
            if (leader) {
              tensormap_set_address(sa_map, args.a + static_cast<int64_t>(args.m) * k0);
              tensormap_set_inner_dim(sa_map, static_cast<uint32_t>(kg));
              tensormap_set_row_stride(sa_map, static_cast<uint64_t>(kg));
              tensormap_set_address(sb_map, args.b + static_cast<int64_t>(args.n) * k0);
              tensormap_set_inner_dim(sb_map, static_cast<uint32_t>(kg));
              tensormap_set_row_stride(sb_map, static_cast<uint64_t>(kg));
            }
            __syncwarp();
            uint8_t* gmaps = g_wgrad_map_pool + (pool_entry * kWgradMapsPerCta + slot * 2) * kTensorMapBytes;
            tensormap_publish(gmaps, sa_map);
            tensormap_publish(gmaps + kTensorMapBytes, sb_map);
            if (leader) {
              tensormap_acquire(gmaps);
              tensormap_acquire(gmaps + kTensorMapBytes);
            }
            __syncwarp();
            map_a = reinterpret_cast<const CUtensorMap*>(gmaps);
            map_b = reinterpret_cast<const CUtensorMap*>(gmaps + kTensorMapBytes);
          }
        }
        if (leader) {
          for (int kb = 0; kb < t.num_kb; ++kb) {
            const uint32_t stage = (issued + kb) % kStages;
            const uint32_t phase = ((issued + kb) / kStages) & 1;
            const uint32_t sstage = (issued + kb) % kScaleStages;
            const uint32_t sphase = ((issued + kb) / kScaleStages) & 1;
            mbarrier_wait(&empty[stage], phase ^ 1);
            mbarrier_arrive_expect_tx(&full[stage], kTileA + kTileB);
            uint8_t* a_dst = smem_a + stage * kTileA;
            uint8_t* b_dst = smem_b + stage * kTileB;
            const int k0 = kb * kBlockK;
            if constexpr (kMulticast == Multicast::kA) {
              tma_load_2d_multicast(a_dst + rank * (kTileA / 2), map_a, &full[stage], 0x3, k0,
                                    t.m_base + rank * (kBlockM / 2));
            } else {
              tma_load_2d(a_dst, map_a, &full[stage], k0, t.m_base);
            }
            if constexpr (kMulticast == Multicast::kB) {
              tma_load_2d_multicast(b_dst + rank * (kTileB / 2), map_b, &full[stage], 0x3, k0,
                                    t.n_base + rank * (kBlockN / 2));
            } else {
              tma_load_2d(b_dst, map_b, &full[stage], k0, t.n_base);
            }
            mbarrier_wait(&scale_empty[sstage], sphase ^ 1);
            mbarrier_arrive_expect_tx(&scale_full[sstage], kScaleBytes);
            tma_load_2d(smem_sa + sstage * kSaStride, &tmap_sa, &scale_full[sstage], t.m_base, t.kb0 + kb);
            tma_load_2d(smem_sb + sstage * kSbStride, &tmap_sb, &scale_full[sstage], t.n_base, t.kb0 + kb);
          }
        }
        issued += t.num_kb;
        if constexpr (kKGrouped) slot_last[slot] = static_cast<int64_t>(issued) - 1;
        __syncwarp();
      }
    }
  } else {
    // ------------------------------------------------------------ math warpgroups
    regs_increase<kMathRegs>();
    const int warp_in_wg = (threadIdx.x / 32) % 4;
    const int row0 = warp_in_wg * 16 + lane / 4;  // this thread's rows: row0 and row0 + 8 of its 64
    const int q = lane % 4;
    const bool wg_leader = threadIdx.x % 128 == 0;
    uint8_t* d_stage = smem_d + warpgroup * (64 * kBlockN * 4);
    const float* sa_thread = smem_sa + warpgroup * 64 + row0;
    const float* sb_thread = smem_sb + 2 * q;

    // wgmma descriptors of stage 0, built once: a stage or k-step moves only the start-address
    // field, by a constant.
    const uint64_t desc_a0 = make_smem_desc_sw128(smem_a + warpgroup * 64 * kBlockK);
    const uint64_t desc_b0 = make_smem_desc_sw128(smem_b);
    float fin[kBlockN / 2];
    // The staged tile goes out a chunk (64 rows x 8 columns) per K block of the next tile
    // instead of all at once: every CTA reaches its epilogue at about the same time, and 132
    // tiles of fp32 read and written in one burst stalled the next tile's operand loads
    // behind them (NOTES #38). out_next == kChunks: nothing pending. Only the warpgroup's
    // leader thread issues (and tracks) the stores.
    constexpr int kChunks = kBlockN / kChunkCols;
    int out_row = 0, out_col = 0, out_group = 0, out_next = kChunks;
    // A chunk goes out after the blocks whose stage has (stage & out_mask) == 0: every block,
    // every second or every fourth, so that a long tile spreads its predecessor's chunks over
    // most of its length instead of its first kChunks blocks (set per tile from its K blocks).
    int out_mask = 0;
    auto store_chunk = [&](int c) {
      const int col = out_col + c * kChunkCols;
      if (out_row < args.m && col < args.n) {
        const uint8_t* src = d_stage + c * kChunkBytes;
        if (args.accumulate) {
          tma_reduce_add_3d(&tmap_d, src, col, out_row, out_group);
        } else {
          tma_store_3d(&tmap_d, src, col, out_row, out_group);
        }
      }
    };
    auto flush_chunks = [&] {
      if (wg_leader) {
        while (out_next < kChunks) store_chunk(out_next++);
        tma_store_commit();
      }
    };
    // The next load to consume: its A/B stage and phase, and its scale stage and phase
    // (counters, not a modulo of a load index: the scale ring is kStages + 1 deep).
    int stage = 0, sstage = 0;
    uint32_t phase = 0, sphase = 0;
    WgradTile t;
    for (int i = 0; sched.tile(i, t); ++i) {
      if (t.num_kb == 0 && args.accumulate) continue;  // an empty group adds nothing
      // fin += acc * sa[row] * sb[col] with the scales of scale stage `st`. The two row
      // scales and the first kPre column pairs are read ahead (prefetch, before the wgmma
      // wait; NOTES #37: reading them after it left the FMULs waiting on shared memory,
      // which the wgmma operand reads keep busy); the rest are read here, ahead of the math.
      constexpr int kPairs = kBlockN / 8;
      // NOTES: a quarter of the column pairs read ahead, an eighth with one math warpgroup:
      // half spilled once the output chunks (above) took their registers, and all of them
      // spill at 128 columns even without the chunks.
      constexpr int kPre = kMathWG == 1 ? kPairs / 8 : kPairs / 4;
      float sa_pre[2];
      float2 sb_pre[kPre];
      auto prefetch_scales = [&](uint32_t st) {
        sa_pre[0] = sa_thread[st * kSaStride];
        sa_pre[1] = sa_thread[st * kSaStride + 8];
        const float* sb = sb_thread + st * kSbStride;
#pragma unroll
        for (int j = 0; j < kPre; ++j) sb_pre[j] = *reinterpret_cast<const float2*>(sb + j * 8);
      };
      auto promote = [&](const float* a, uint32_t st) {
        const float sa0 = sa_pre[0], sa1 = sa_pre[1];
        const float* sb = sb_thread + st * kSbStride;
        float2 sb_rest[kPairs - kPre + 1];  // + 1: never zero-sized
#pragma unroll
        for (int j = kPre; j < kPairs; ++j) sb_rest[j - kPre] = *reinterpret_cast<const float2*>(sb + j * 8);
#pragma unroll
        for (int j = 0; j < kPairs; ++j) {
          const float2 s = j < kPre ? sb_pre[j] : sb_rest[j - kPre];
          fin[4 * j + 0] += a[4 * j + 0] * (sa0 * s.x);
          fin[4 * j + 1] += a[4 * j + 1] * (sa0 * s.y);
          fin[4 * j + 2] += a[4 * j + 2] * (sa1 * s.x);
          fin[4 * j + 3] += a[4 * j + 3] * (sa1 * s.y);
        }
      };
      auto release = [&](uint32_t st) {
        if (lane == 0) mbarrier_arrive(&empty[st]);
        if constexpr (kCluster > 1) {
          if (lane == 1) mbarrier_arrive_cluster(&empty[st], rank ^ 1);
        }
      };
#pragma unroll
      for (int j = 0; j < kBlockN / 2; ++j) fin[j] = 0.0f;

      // Software-pipelined over kDepth accumulator sets (as the 1D2D kernel's deferred
      // loop): block kb is issued into set kb % kDepth while the blocks before it are in
      // flight; the oldest is promoted once wait_group leaves only the newer ones pending.
      // A block's A/B stage is released once its MMAs are done (before its promotion); its
      // scale stage after the promotion.
      float accs[kDepth][kBlockN / 2];
      int st[kDepth], sst[kDepth];  // the A/B and scale stages of the block in each set
      auto load_issue = [&](auto d_const) {
        constexpr int d = decltype(d_const)::value;
        mbarrier_wait(&full[stage], phase);
        // The block's scales land with its A/B tiles (the producer issues both per block);
        // waiting here keeps a spin loop out of the promotion path.
        mbarrier_wait(&scale_full[sstage], sphase);
        const uint64_t da = desc_a0 + static_cast<uint32_t>((stage * kTileA) >> 4);
        const uint64_t db = desc_b0 + static_cast<uint32_t>((stage * kTileB) >> 4);
        fence_registers<kBlockN / 2>(accs[d]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBlockK / 32; ++kk) WgmmaFp8<kBlockN>::mma(da + kk * 2, db + kk * 2, accs[d], kk > 0);
        wgmma_commit();
        if (wg_leader && out_next < kChunks && (stage & out_mask) == 0) {
          store_chunk(out_next++);
          tma_store_commit();
        }
        st[d] = stage;
        sst[d] = sstage;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1;
        }
        // Re-read through a shuffle so the compiler treats the stage as warp-uniform and
        // builds the next block's descriptors in uniform registers (without it: 16 R2UR and
        // 64-bit adds per block, NOTES #37); done here, its latency hides behind the promotion.
        stage = __shfl_sync(0xffffffff, stage, 0);
        if (++sstage == kScaleStages) {
          sstage = 0;
          sphase ^= 1;
        }
      };
      auto retire = [&](auto d_const) {
        constexpr int d = decltype(d_const)::value;
        fence_registers<kBlockN / 2>(accs[d]);
        release(st[d]);
        promote(accs[d], sst[d]);
        // The slot's scales were read with generic loads and its refill is a TMA write: the
        // proxy fence (ptxas: MEMBAR.CTA, which here waits only for those loads: this loop
        // has no global loads in flight) orders them first (see mbarrier_arrive_after for
        // what an arrive alone allowed in the swap-AB kernel).
        fence_proxy_async_smem();
        if (lane == 0) mbarrier_arrive(&scale_empty[sst[d]]);
      };
      auto prefetch = [&](auto d_const) { prefetch_scales(sst[decltype(d_const)::value]); };
      // NOTES: 4 blocks to spare at the end of the tile, so that the flush at its epilogue
      // rarely has chunks left.
      out_mask = t.num_kb >= 4 * kChunks + 4 ? 3 : (t.num_kb >= 2 * kChunks + 4 ? 1 : 0);
      deferred_pipeline<kDepth>(t.num_kb, load_issue, retire, prefetch);

      // ---------------------------------------------------------- epilogue
      // The previous tile's chunks not yet sent go now; the staging tile is rewritten only
      // once they have all been read out of it.
      flush_chunks();
      if (wg_leader) tma_store_wait_read();
      named_barrier_sync(1 + warpgroup, 128);
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = row0 + h * 8;
          const int col = j * 8 + q * 2;  // tile-relative column of this pair
          const int chunk = col / kChunkCols;
          const int byte_in_row = (col % kChunkCols) * 4;
          const int unit = (byte_in_row / 16) ^ ((r >> 2) & 1);  // 32-byte swizzle
          uint8_t* dst = d_stage + chunk * kChunkBytes + r * 32 + unit * 16 + byte_in_row % 16;
          *reinterpret_cast<float2*>(dst) = make_float2(fin[4 * j + 2 * h], fin[4 * j + 2 * h + 1]);
        }
      }
      fence_proxy_async_smem();
      named_barrier_sync(1 + warpgroup, 128);
      out_row = t.m_base + warpgroup * 64;
      out_col = t.n_base;
      out_group = t.group;
      out_next = 0;
    }
    flush_chunks();
    if (wg_leader) tma_store_wait_all();
  }

  if constexpr (kCluster > 1) {
    cluster_sync();
  } else if constexpr (kKGrouped) {
    __syncthreads();
  }
  // Every load through this CTA's maps has landed (both CTAs of a pair have consumed theirs).
  if constexpr (kKGrouped) {
    if (threadIdx.x == kMathThreads) wgrad_map_pool_free(pool_entry);
  }
#endif
}

}  // namespace fp8gemm::sm90
