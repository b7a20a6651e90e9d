// Dense FP8 GEMM, "1D2D" recipe (DeepSeek-V3): D[M,N] = (A * sa) @ (B * sb)^T with
// A [M,K] e4m3 scaled per row and 128-column block (sa, 1x128), B [N,K] e4m3 scaled
// per 128x128 block (sb). FP8 tensor-core partial sums of each 128-wide K block are
// promoted into fp32 registers with the product of the two scales.
//
// Structure: a persistent grid; warpgroup kMathWG (the last) is the producer, whose
// first thread feeds a kStages-deep shared-memory ring through TMA (A/B tiles, with
// cluster multicast of one operand, and the A scales). One or two math warpgroups each
// own 64 rows of the tile (two 128-row waves for 256-row tiles), run wgmma on them, read
// the weight scales from global memory two K blocks ahead, and write their rows back
// through a swizzled staging buffer and TMA stores of up to 128-byte-wide chunks.
//
// The same kernel serves the M-grouped layouts (kLayout): the scheduler maps each tile
// to its group (B rows g * N.., weight scales of group g) and its rows of A and D.
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>

#include "sm90_gemm_layout.hpp"
#include "sm90_ptx.cuh"
#include "sm90_scheduler.cuh"
#include "sm90_wgmma_fp8.cuh"  // generated at build time: WgmmaFp8<N>

namespace fp8gemm::sm90 {

// The kernel body. Each config's entry point is an `extern "C"` __global__ function in its
// generated translation unit (csrc/gen_kernels.py), which passes its __grid_constant__
// tensor maps here by reference (TMA needs their parameter-space addresses) and declares
// __launch_bounds__(gemm_1d2d_threads(kBlockM), 1). Unmangled names let the host look the
// entry up in the embedded cubin through the driver API.
//
// kSaGroup > 0: the A scales come as row-major [rows, Kb] (rows 16-byte aligned), read in
// place: once per kSaGroup K blocks the producer brings the tile's rows x kSaGroup columns
// into a slot of a small ring with barriers of its own (sm90_gemm_layout.hpp), and the math
// threads pick column kb % kSaGroup. 0: the canonical layout, a column box per stage.
template <int kBlockM, int kBlockN, int kStages, Multicast kMulticast, typename OutT, Layout kLayout,
          int kSaGroup = 0, bool kStreamK = false>
__device__ __forceinline__ void fp8_gemm_1d2d_body(const CUtensorMap& tmap_a, const CUtensorMap& tmap_b,
                                                   const CUtensorMap& tmap_sa, const CUtensorMap& tmap_d,
                                                   const GemmArgs& args) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kBlockM == 64 || kBlockM == 128 || kBlockM == 256, "block_m");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 192, "block_n");
  constexpr int kMathWG = gemm_1d2d_math_warpgroups(kBlockM);
  constexpr int kWaves = kBlockM / (64 * kMathWG);
  constexpr int kMathThreads = kMathWG * 128;
  constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  constexpr uint32_t kTileA = kBlockM * kBlockK;
  constexpr uint32_t kTileB = kBlockN * kBlockK;
  // A scales per stage: a box of block_m floats (+ the offset layout's sa_pad()), each
  // stage's box 128-byte aligned as TMA destinations must be.
  constexpr int kSaStride = sa_stage_floats(kBlockM, kLayout);
  constexpr uint32_t kTileSA = (kBlockM + sa_pad(kLayout)) * sizeof(float);
  constexpr bool kSaRowMajor = kSaGroup > 0;
  static_assert(kSaGroup == 0 || kSaGroup == 4 || kSaGroup == 8 || kSaGroup == 16 || kSaGroup == 32, "sa_group");
  static_assert((kSaSlots & (kSaSlots - 1)) == 0, "a power of two: the ring index is a mask");
  constexpr int kSaSlot = kBlockM * kSaGroup;            // floats per row-major ring slot
  constexpr uint32_t kSaBox = kSaSlot * sizeof(float);   // bytes of one row-major box
  constexpr SmemLayout kSmem = gemm_1d2d_smem(kBlockM, kBlockN, kStages, sizeof(OutT), kLayout, kSaGroup);
  static_assert(!kSaRowMajor || (kSmem.sa_offset % 1024 == 0 && kSaBox % 1024 == 0),
                "row-major scale slots: 1024-byte aligned (the 128-byte swizzle's unit)");
  // Masked and offset groups end at any row: a 64-row store that would cross the end
  // goes row by row instead of through TMA.
  constexpr bool kRowBounded = layout_has_group_table(kLayout);
  static_assert(kLayout == Layout::kDense || kLayout == Layout::kContiguous || kBlockM <= 128,
                "masked and offset tiles hold one group: block_m <= 128");
  // The output is staged per warpgroup wave (64 rows) in chunks of 64 rows x kStoreW bytes,
  // each swizzled kStoreW-wide as its TMA store reads it: the 16-byte unit u of row r sits
  // at unit u ^ ((r * kStoreW / 128) % (kStoreW / 16)), so a warp's 8 rows of one unit
  // column hit distinct banks.
  constexpr int kStoreW = store_chunk_bytes(kBlockN, sizeof(OutT));
  constexpr int kChunkCols = kStoreW / sizeof(OutT);
  constexpr int kChunkBytes = 64 * kStoreW;
  constexpr int kWaveBytes = 64 * kBlockN * sizeof(OutT);  // one warpgroup's 64 rows, staged
  auto staged = [](int r, int byte_in_row) {  // offset of (row, byte) within a wave's staging
    const int chunk = byte_in_row / kStoreW, b = byte_in_row % kStoreW;
    const int unit = (b / 16) ^ (((r * kStoreW) >> 7) & (kStoreW / 16 - 1));
    return chunk * kChunkBytes + r * kStoreW + unit * 16 + b % 16;
  };
  // With block_n <= 128 the math warpgroups keep a second accumulator set and run one K
  // block ahead of the promotion; wider tiles have no registers for it and promote the
  // first half of the tile while the second half's MMAs still run.
  // NOTES: measured (#25): the deferred loop beats wait-then-promote by 8-15% at 128x128;
  // for block_n > 128 the two-chunk loop and wait-then-promote are within +-3%.
  constexpr bool kDeferred = kWaves == 1 && kBlockN <= 128;
  static_assert(!kStreamK || (kLayout == Layout::kDense && kMulticast == Multicast::kNone && kDeferred && kSaGroup == 0),
                "stream-K: dense, no cluster, the deferred loop, canonical A scales");
  // NOTES: accumulator sets in flight in the deferred loop: as many as the registers hold
  // beside the promoted sum (fin) and ~56 for addresses and scales, at most 4. Measured on
  // narrow decode tiles: up to 8% faster, nothing slower (benchmarks/NOTES.md #21).
  constexpr int kDepth = deferred_depth(kBlockN, kMathWG);
  constexpr int kChunkN = kBlockN / 2;
  constexpr int kChunkRegs = kChunkN / 2;
  // NOTES: register split after setmaxnreg. The accumulator sets (kDepth + 1, or 3 for the
  // other loops, x kBlockN / 2 floats) plus addresses and scales: 232 per math thread. The producer thread
  // needs little; 40 leaves 64K - 232 x 256 for it. One math warpgroup: 240.
  constexpr uint32_t kMathRegs = kMathWG == 1 ? 240 : 232;
  constexpr uint32_t kProducerRegs = kMathWG == 1 ? 56 : 40;
  static_assert(kMathRegs * kMathThreads + kProducerRegs * 128 <= 65536, "register budget");

  // The dynamic shared memory window starts 1024-byte aligned on sm_90 (after the
  // driver's reserved 1 KB); the 128-byte swizzle needs that. A base known at compile
  // time keeps every shared-memory address a constant offset: a runtime re-alignment
  // pad was recomputed inside the main loop (NOTES #24). Checked once below.
  FP8GEMM_CTA_TRACE_CODE(const uint64_t trace_t0 = trace_clock(); uint64_t trace_t1 = 0, trace_first = 0, trace_second = 0, trace_last = 0;
                int trace_tiles = 0;)
  extern __shared__ __align__(1024) uint8_t smem_raw[];
  uint8_t* smem = smem_raw;
  uint8_t* smem_a = smem + kSmem.a_offset;
  uint8_t* smem_b = smem + kSmem.b_offset;
  uint8_t* smem_d = smem + kSmem.d_offset;
  float* smem_sa = reinterpret_cast<float*>(smem + kSmem.sa_offset);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kSmem.bar_offset);
  uint64_t* empty = full + kStages;
  uint64_t* sa_full = empty + kStages;     // row-major scale ring (kSaSlots each)
  uint64_t* sa_empty = sa_full + kSaSlots;
  int* group_table = reinterpret_cast<int*>(smem + kSmem.group_offset);

  const int n = args.n;
  const int num_kb = (args.k + kBlockK - 1) / kBlockK;
  // Through a shuffle so the compiler treats it as warp-uniform (uniform registers for
  // the wgmma descriptors derived from it).
  const int warpgroup = __shfl_sync(0xffffffff, static_cast<int>(threadIdx.x / 128), 0);
  const int lane = threadIdx.x % 32;
  const uint32_t rank = kCluster > 1 ? cluster_cta_rank() : 0;

  if (threadIdx.x == kMathThreads) {
    if (smem_addr(smem_raw) % kSmemAlign != 0) __trap();  // never seen; a loud stop, not wrong sums
    tma_prefetch_descriptor(&tmap_a);
    tma_prefetch_descriptor(&tmap_b);
    tma_prefetch_descriptor(&tmap_sa);
    tma_prefetch_descriptor(&tmap_d);
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(&full[s], 1);  // the producer's arrive.expect_tx
      // One arrival per math warp of every CTA whose producer writes into this stage.
      mbarrier_init(&empty[s], kMathWG * 4 * kCluster);
    }
    if constexpr (kSaRowMajor) {
#pragma unroll
      for (int s = 0; s < kSaSlots; ++s) {
        mbarrier_init(&sa_full[s], 1);           // the producer's arrive.expect_tx
        mbarrier_init(&sa_empty[s], kMathWG * 4);  // one arrival per math warp of this CTA
      }
    }
    fence_barrier_init();
  }
  // Everything above (launch, shared-memory carve-up, barrier init, descriptor prefetch)
  // may overlap the previous kernel's tail under programmatic dependent launch; nothing
  // below reads or writes global memory before that kernel is done.
  griddep_wait();
  griddep_launch_dependents();
  if constexpr (layout_has_group_table(kLayout)) build_group_table<kBlockM, kLayout>(args, group_table);
  if constexpr (kCluster > 1) {
    cluster_sync();
  } else {
    __syncthreads();
  }

  using Sched = std::conditional_t<kStreamK, StreamKScheduler<kBlockM, kBlockN>, Scheduler<kBlockM, kBlockN, kMulticast, kLayout>>;
  using TileT = std::conditional_t<kStreamK, SkTile, Tile>;
  Sched sched(args, rank, group_table);
  FP8GEMM_CTA_TRACE_CODE(trace_t1 = trace_clock();)

  if (warpgroup == kMathWG) {
    // ------------------------------------------------------------ producer
    regs_decrease<kProducerRegs>();
    if (threadIdx.x == kMathThreads) {
      int stage = 0;
      uint32_t phase = 0;
      int sa_slot = 0;  // row-major scale ring
      uint32_t sa_phase = 0;
      TileT t;
      for (int i = 0; sched.tile(i, t); ++i) {
        if (t.skip) continue;
        const int b_row = t.group * n + t.n_base;
        int kb_begin = 0, kb_end = num_kb;
        if constexpr (kStreamK) {
          kb_begin = t.kb_begin;
          kb_end = t.kb_end;
        }
        for (int kb = kb_begin; kb < kb_end; ++kb) {
          if constexpr (kSaRowMajor) {
            // Row-major A scales: the tile's rows (of A's row space) x columns kb ..
            // kb + kSaGroup - 1 (past Kb zero), once per group of K blocks; or (sa_pitch > 0,
            // one group per tile) the tile's whole rows as 128-byte lines.
            if (kb % kSaGroup == 0) {
              mbarrier_wait(&sa_empty[sa_slot], sa_phase ^ 1);
              float* dst = smem_sa + sa_slot * kSaSlot;
              if (args.sa_pitch > 0) {
                mbarrier_arrive_expect_tx(&sa_full[sa_slot], kBlockM * args.sa_pitch * sizeof(float));
                tma_load_2d(dst, &tmap_sa, &sa_full[sa_slot], 0, t.a_row * args.sa_pitch / 32);
              } else {
                mbarrier_arrive_expect_tx(&sa_full[sa_slot], kSaBox);
                tma_load_2d(dst, &tmap_sa, &sa_full[sa_slot], kb, t.a_row);
              }
              if (++sa_slot == kSaSlots) {
                sa_slot = 0;
                sa_phase ^= 1;
              }
            }
          }
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kTileA + kTileB + (kSaRowMajor ? 0 : kTileSA));
          uint8_t* a_dst = smem_a + stage * kTileA;
          uint8_t* b_dst = smem_b + stage * kTileB;
          const int k0 = kb * kBlockK;
          if constexpr (kMulticast == Multicast::kA) {
            tma_load_2d_multicast(a_dst + rank * (kTileA / 2), &tmap_a, &full[stage], 0x3, k0,
                                  t.a_row + rank * (kBlockM / 2));
          } else {
            tma_load_2d(a_dst, &tmap_a, &full[stage], k0, t.a_row);
          }
          if constexpr (kMulticast == Multicast::kB) {
            tma_load_2d_multicast(b_dst + rank * (kTileB / 2), &tmap_b, &full[stage], 0x3, k0,
                                  b_row + rank * (kBlockN / 2));
          } else {
            tma_load_2d(b_dst, &tmap_b, &full[stage], k0, b_row);
          }
          // A scales: column kb of the canonical [Kb, align(M, 4)] layout, rows past M zero
          // (masked: group g's columns follow group g - 1's).
          if constexpr (!kSaRowMajor) {
            tma_load_2d(smem_sa + stage * kSaStride, &tmap_sa, &full[stage], t.sa_row - t.sa_row % sa_align(kLayout),
                        t.sa_kb0 + kb);
          }
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
    }
  } else {
    // ------------------------------------------------------------ math warpgroups
    regs_increase<kMathRegs>();
    const int warp_in_wg = (threadIdx.x / 32) % 4;
    const int row0 = warp_in_wg * 16 + lane / 4;  // this thread's rows: row0 and row0 + 8 of its 64
    const int q = lane % 4;
    const bool wg_leader = threadIdx.x % 128 == 0;
    uint8_t* d_stage = smem_d + warpgroup * (kWaves * 64 * kBlockN * sizeof(OutT));
    // Floats from one row's scales to the next in a slot (row-major: the box's row pitch).
    const int sa_pitch = kSaRowMajor ? (args.sa_pitch > 0 ? args.sa_pitch : kSaGroup) : 1;
    const float* sa_thread = smem_sa + (warpgroup * 64 + row0) * sa_pitch;
    // Rows of 32 floats (a pitch of 32: boxes of 32 columns, or whole rows of 32) arrive
    // 128-byte swizzled (the host's tensor maps): the 16-byte chunks of row r are permuted
    // by r % 8, so a warp's 8 rows sit in 8 different chunks instead of one bank (an 8-way
    // conflict). A thread's rows (row0 + multiples of 8) share r % 8: its column c is at
    // c ^ sa_xor within each of its rows, a per-thread constant.
    const int sa_xor = kSaRowMajor && sa_pitch == 32 ? (row0 & 7) << 2 : 0;
    // This thread's scale offsets within a slot: its first row, +8 rows, +128 rows (wave 1).
    const int sa_row_off = (warpgroup * 64 + row0) * sa_pitch;
    const int sa_off8 = 8 * sa_pitch, sa_off_wave = 128 * sa_pitch;
    uint32_t sa_groups = 0;  // row-major scale ring: groups read so far (slot, phase)

    // wgmma descriptors of stage 0 (this warpgroup's first A rows, B), built once: a
    // stage, wave or k-step moves only the start-address field, by a constant.
    const uint64_t desc_a0 = make_smem_desc_sw128(smem_a + warpgroup * 64 * kBlockK);
    const uint64_t desc_b0 = make_smem_desc_sw128(smem_b);
    float acc[kBlockN / 2];
    float fin[kWaves * kBlockN / 2];
    // ------------------------------------------------------------ epilogue
    // Tile et's promoted sums (fin) to D: staged per warpgroup, then TMA stores.
    auto epilogue = [&](const Tile& et) {
      // The previous tile's stores must have read the staging buffer before it is rewritten.
      if (wg_leader) tma_store_wait_read();
      named_barrier_sync(1 + warpgroup, 128);
#pragma unroll
      for (int w = 0; w < kWaves; ++w) {
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = row0 + h * 8;
          const float v0 = fin[w * (kBlockN / 2) + 4 * j + 2 * h], v1 = fin[w * (kBlockN / 2) + 4 * j + 2 * h + 1];
          const int col = j * 8 + q * 2;  // tile-relative column of v0
          uint8_t* dst = d_stage + w * kWaveBytes + staged(r, col * static_cast<int>(sizeof(OutT)));
          if constexpr (sizeof(OutT) == 2) {
            *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(v0, v1);
          } else {
            *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
          }
        }
      }
      }
      fence_proxy_async_smem();
      named_barrier_sync(1 + warpgroup, 128);
      if (wg_leader) {
#pragma unroll
        for (int w = 0; w < kWaves; ++w) {
          const int row = et.a_row + w * 128 + warpgroup * 64;
          if (row >= et.row_begin && row < et.row_end && (!kRowBounded || row + 64 <= et.row_end)) {
#pragma unroll
            for (int c = 0; c < kBlockN / kChunkCols; ++c) {
              const int col = et.n_base + c * kChunkCols;
              if (col >= n) break;
              const uint8_t* src = d_stage + w * kWaveBytes + c * kChunkBytes;
              if (sizeof(OutT) == 4 && args.accumulate) {
                tma_reduce_add_2d(&tmap_d, src, col, row);
              } else {
                tma_store_2d(&tmap_d, src, col, row);
              }
            }
          }
        }
        tma_store_commit();
      }
      if constexpr (kRowBounded) {
        // A wave that ends its group mid-way: 16-byte stores of its valid rows, read back
        // from the swizzled staging buffer.
        constexpr int kUnitsPerRow = kBlockN * sizeof(OutT) / 16;
        constexpr int kColsPerUnit = 16 / sizeof(OutT);
#pragma unroll
        for (int w = 0; w < kWaves; ++w) {
          const int row = et.a_row + w * 128 + warpgroup * 64;
          const int rows = et.row_end - row;
          if (rows > 0 && rows < 64) {
            for (int idx = threadIdx.x % 128; idx < rows * kUnitsPerRow; idx += 128) {
              const int r = idx / kUnitsPerRow, u = idx % kUnitsPerRow;
              const int col = et.n_base + u * kColsPerUnit;
              if (col < n) {
                const uint8_t* src = d_stage + w * kWaveBytes + staged(r, u * 16);
                *reinterpret_cast<int4*>(static_cast<OutT*>(args.d) + static_cast<int64_t>(row + r) * args.ldd + col) =
                    *reinterpret_cast<const int4*>(src);
              }
            }
          }
        }
      }
    };
    // Stream-K fix-up: a partial sum goes through the workspace slot of the CTA that computed
    // it, each thread's floats as float4s 128 threads apart (coalesced), with one flag per
    // slot and warpgroup; the CTA that stores the tile adds the slots in CTA order.
    auto sk_slot_ptr = [&](int slot) {
      return reinterpret_cast<float4*>(args.sk_partials) +
             (static_cast<int64_t>(slot) * kMathWG + warpgroup) * (kBlockN / 8) * 128 + threadIdx.x % 128;
    };
    auto sk_store_partial = [&](int slot) {
      float4* dst = sk_slot_ptr(slot);
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j)
        __stcg(dst + j * 128, make_float4(fin[4 * j], fin[4 * j + 1], fin[4 * j + 2], fin[4 * j + 3]));
      __threadfence();
      named_barrier_sync(1 + warpgroup, 128);
      if (wg_leader) flag_release(args.sk_flags + slot * kMathWG + warpgroup);
    };
    auto sk_add_partial = [&](int slot) {
      if (wg_leader) flag_wait(args.sk_flags + slot * kMathWG + warpgroup);
      named_barrier_sync(1 + warpgroup, 128);
      const float4* src = sk_slot_ptr(slot);
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) {
        const float4 v = __ldcg(src + j * 128);
        fin[4 * j] += v.x;
        fin[4 * j + 1] += v.y;
        fin[4 * j + 2] += v.z;
        fin[4 * j + 3] += v.w;
      }
    };
    auto zero_fin = [&] {
#pragma unroll
      for (int j = 0; j < kWaves * kBlockN / 2; ++j) fin[j] = 0.0f;
    };
    // The chunked loop (144-192-wide tiles) stores a tile in the next tile's first K block,
    // behind its MMAs (start_tile); the last tile's after the loop.
    // NOTES: measured (#67, #68, #71): 5-9% at N = 2112 for 128x144 and 128x192; the 256-row
    // (whole or wave by wave) and deferred loops were slower with it.
    constexpr bool kLateEpilogue = !kDeferred && kWaves == 1;
    TileT pending;
    bool has_pending = false;
    auto start_tile = [&] {
      if (has_pending) epilogue(pending);
      zero_fin();
    };
    int stage = 0;
    uint32_t phase = 0;
    TileT t;
    for (int i = 0; sched.tile(i, t); ++i) {
      if (t.skip) continue;
      FP8GEMM_CTA_TRACE_CODE(if (threadIdx.x == 0) {
        const uint64_t now = trace_clock() - trace_t0;
        if (trace_tiles == 0) trace_first = now;
        if (trace_tiles == 1) trace_second = now;
        trace_last = now;
        ++trace_tiles;
      })
      const int n_base = t.n_base;
      const float* sa_row0 = sa_thread + (kSaRowMajor ? 0 : t.sa_row % sa_align(kLayout));
      // Row-major scales: the K block whose scales are read next. Its group's box is waited
      // for before the first read; after the group's last read (or the tile's) each math
      // warp hands the slot back.
      int sa_kb = 0;
      auto sa_acquire = [&] {
        if constexpr (kSaRowMajor) {
          if (sa_kb % kSaGroup == 0) mbarrier_wait(&sa_full[sa_groups % kSaSlots], (sa_groups / kSaSlots) & 1);
        }
      };
      // touch: computed from every scale this warp read from the slot (mbarrier_arrive_after).
      auto sa_release = [&](float touch) {
        if constexpr (kSaRowMajor) {
          if (sa_kb % kSaGroup == kSaGroup - 1 || sa_kb == num_kb - 1) {
            __syncwarp();
            if (lane == 0) mbarrier_arrive_after(&sa_empty[sa_groups % kSaSlots], touch);
            ++sa_groups;
          }
          ++sa_kb;
        }
      };
      // The tile's weight-scale rows (the second clamped: it is only used past the boundary,
      // which lies beyond N when that row does not exist).
      const int sb_row0 = n_base / 128;
      const float* sb_group = args.sb + static_cast<int64_t>(t.group) * args.sb_stride_g;
      const float* sb_ptr0 = sb_group + static_cast<int64_t>(sb_row0) * args.sb_stride_n;
      const float* sb_ptr1 = sb_group + static_cast<int64_t>(min(sb_row0 + 1, args.sb_rows - 1)) * args.sb_stride_n;
      const int64_t sb_step = args.sb_stride_k;
      int tile_kb = num_kb;  // the tile's K blocks (stream-K: its range's, from kb_begin)
      if constexpr (kStreamK) {
        tile_kb = t.kb_end - t.kb_begin;
        sb_ptr0 += t.kb_begin * sb_step;
        sb_ptr1 += t.kb_begin * sb_step;
      }
      int sb_left = tile_kb;
      // Weight scales two K blocks ahead (an L2 round trip outlasts one block's MMAs):
      // next_sb() returns the scales of the next block to issue and loads two further.
      // The pointers walk K; past the last block they stay (the values are then unused).
      // Row-major twins: ptxas moved these warp-uniform values into uniform registers (R2UR)
      // right after each load, so every block waited out an L2 round trip there instead of
      // two blocks later (contiguous 8 x 4096 rows at (7168, 2048): 1.17-1.19x the canonical
      // time, benchmarks/NOTES.md #51). An offset ptxas cannot prove uniform, threadIdx.y (0:
      // the blocks are 1-D), keeps them in vector registers until they are used.
      const int sb_opaque_zero = kSaRowMajor ? static_cast<int>(threadIdx.y) : 0;
      auto load_sb = [&] {
        const float2 v = make_float2(__ldg(sb_ptr0 + sb_opaque_zero), __ldg(sb_ptr1 + sb_opaque_zero));
        if (--sb_left > 0) {
          sb_ptr0 += sb_step;
          sb_ptr1 += sb_step;
        }
        return v;
      };
      float2 sb_q0 = load_sb();
      float2 sb_q1 = load_sb();
      auto next_sb = [&] {
        const float2 v = sb_q0;
        sb_q0 = sb_q1;
        sb_q1 = load_sb();
        return v;
      };
      // Per-block scale products (sa0 sb0, sa1 sb0, sa0 sb1, sa1 sb1) for this thread's rows.
      auto scales = [&](int st, float2 sb, int wave = 0) {
        float sa0, sa1;
        if constexpr (kSaRowMajor) {
          // The slot is 1024-byte aligned (the swizzle's unit).
          const float* sa = smem_sa + (sa_groups % kSaSlots) * kSaSlot + sa_row_off + wave * sa_off_wave +
                            ((sa_kb % kSaGroup) ^ sa_xor);
          sa0 = sa[0];
          sa1 = sa[sa_off8];
        } else {
          const float* sa = sa_row0 + st * kSaStride + wave * 128;
          sa0 = sa[0];
          sa1 = sa[8];
        }
        return make_float4(sa0 * sb.x, sa1 * sb.x, sa0 * sb.y, sa1 * sb.y);
      };
      // Row-major scales are read after the block's MMAs are issued: the wait for their box
      // and the shared-memory latency then overlap the tensor core's work (measured: read
      // before the issue, they held up the first block of each tile and every MMA issue).
      auto row_major_scales = [&](float2 sb) {
        sa_acquire();
        const float4 v = scales(0, sb);
        sa_release(v.x + v.y);  // v.x = sa0 * sb.x, v.y = sa1 * sb.x: both loads
        return v;
      };
      // The main loop, once per position of the tile's weight-scale boundary (a constant).
      auto main_loop = [&](auto split_const) {
        constexpr int kSplit = decltype(split_const)::value;
        auto promote = [&](const float* a, const float4& sc, int j_begin, int j_end, int wave = 0) {
          float* f = fin + wave * (kBlockN / 2);
#pragma unroll
          for (int j = j_begin; j < j_end; ++j) {
            const bool hi = j >= kSplit;
            const float s0 = hi ? sc.z : sc.x;
            const float s1 = hi ? sc.w : sc.y;
            f[4 * j + 0] += a[4 * j + 0] * s0;
            f[4 * j + 1] += a[4 * j + 1] * s0;
            f[4 * j + 2] += a[4 * j + 2] * s1;
            f[4 * j + 3] += a[4 * j + 3] * s1;
          }
        };
        auto release = [&](int st) {
          if (lane == 0) mbarrier_arrive(&empty[st]);
          if constexpr (kCluster > 1) {
            if (lane == 1) mbarrier_arrive_cluster(&empty[st], rank ^ 1);
          }
        };
        auto advance = [&] {
          if (++stage == kStages) {
            stage = 0;
            phase ^= 1;
          }
        };
        auto desc_a = [&](int st, int wave = 0) {
          return desc_a0 + static_cast<uint32_t>((st * kTileA + wave * 128 * kBlockK) >> 4);
        };
        auto desc_b = [&](int st) { return desc_b0 + static_cast<uint32_t>((st * kTileB) >> 4); };
        if constexpr (!kLateEpilogue) zero_fin();

        if constexpr (kDeferred) {
          // Software-pipelined over kDepth accumulator sets (deferred_pipeline, sm90_ptx.cuh):
          // the tensor core always has queued work while the promotion FFMAs run, and for
          // narrow tiles (decode) several small MMA groups overlap their latency.
          float accs[kDepth][kBlockN / 2];
          float4 sc[kDepth];  // the scale products of the block in each set
          int st[kDepth];     // the stage each set's block came from
          auto load_issue = [&](auto d_const) {
            constexpr int d = decltype(d_const)::value;
            mbarrier_wait(&full[stage], phase);
            const float2 sb = next_sb();
            if constexpr (!kSaRowMajor) sc[d] = scales(stage, sb);
            const uint64_t da = desc_a(stage), db = desc_b(stage);
            fence_registers<kBlockN / 2>(accs[d]);
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < kBlockK / 32; ++kk)
              WgmmaFp8<kBlockN>::mma(da + kk * 2, db + kk * 2, accs[d], kk > 0);
            wgmma_commit();
            // Row-major scales: the weight scales wait here; the A scales are read by the
            // prefetch hook below, just before this set's wgmma wait.
            if constexpr (kSaRowMajor) sc[d] = make_float4(sb.x, sb.y, 0.0f, 0.0f);
            // No register fence here: touching the set while its group is in flight makes
            // ptxas serialize every wgmma (C7514); the wait before its promotion orders it.
            st[d] = stage;
            advance();
          };
          auto retire = [&](auto d_const) {
            constexpr int d = decltype(d_const)::value;
            fence_registers<kBlockN / 2>(accs[d]);
            release(st[d]);
            promote(accs[d], sc[d], 0, kBlockN / 8);
          };
          if constexpr (kSaRowMajor) {
            // Called for each block, in order, before the wgmma wait that precedes its retire:
            // the box has had kDepth - 1 blocks' MMAs to land, and the next block's MMAs are
            // already queued when this thread waits for it.
            auto read_sa = [&](auto d_const) {
              constexpr int d = decltype(d_const)::value;
              sc[d] = row_major_scales(make_float2(sc[d].x, sc[d].y));
            };
            deferred_pipeline<kDepth>(num_kb, load_issue, retire, read_sa);
          } else {
            deferred_pipeline<kDepth>(tile_kb, load_issue, retire);
          }
        } else if constexpr (kWaves == 1) {
          // The tile's N as two MMA chunks with one commit group each: chunk 0 is promoted
          // while chunk 1 still runs. The previous tile's epilogue runs in the first block,
          // once its MMAs are queued (start_tile), so the tensor core works through it.
          auto block = [&](auto first_const) {
            constexpr bool kFirst = decltype(first_const)::value;
            mbarrier_wait(&full[stage], phase);
            const float2 sb = next_sb();
            float4 sc;
            if constexpr (!kSaRowMajor && !kFirst) sc = scales(stage, sb);
            const uint64_t da = desc_a(stage), db = desc_b(stage);
            fence_registers<kBlockN / 2>(acc);
            wgmma_fence();
#pragma unroll
            for (int c = 0; c < 2; ++c) {
#pragma unroll
              for (int kk = 0; kk < kBlockK / 32; ++kk) {
                WgmmaFp8<kChunkN>::mma(da + kk * 2, db + c * (kChunkN * kBlockK / 16) + kk * 2, acc + c * kChunkRegs,
                                       kk > 0);
              }
              wgmma_commit();
            }
            if constexpr (kFirst) {
              start_tile();
              if constexpr (!kSaRowMajor) sc = scales(stage, sb);
            }
            if constexpr (kSaRowMajor) sc = row_major_scales(sb);
            wgmma_wait<1>();
            fence_registers<kChunkRegs>(acc);
            promote(acc, sc, 0, kChunkN / 8);
            wgmma_wait<0>();
            fence_registers<kChunkRegs>(acc + kChunkRegs);
            release(stage);
            advance();
            promote(acc, sc, kChunkN / 8, kBlockN / 8);
          };
          block(Int<1>{});
          for (int kb = 1; kb < num_kb; ++kb) block(Int<0>{});
        } else {
          // 256-row tiles: each math warpgroup runs two 64-row waves per K block (rows
          // wave * 128 + warpgroup * 64), one accumulator set, promoted after each wave.
          for (int kb = 0; kb < num_kb; ++kb) {
            mbarrier_wait(&full[stage], phase);
            const float2 sb = next_sb();
            float4 sc[kWaves];
            if constexpr (!kSaRowMajor) {
#pragma unroll
              for (int w = 0; w < kWaves; ++w) sc[w] = scales(stage, sb, w);
            }
            const uint64_t db = desc_b(stage);
#pragma unroll
            for (int w = 0; w < kWaves; ++w) {
              const uint64_t da = desc_a(stage, w);
              fence_registers<kBlockN / 2>(acc);
              wgmma_fence();
#pragma unroll
              for (int kk = 0; kk < kBlockK / 32; ++kk) WgmmaFp8<kBlockN>::mma(da + kk * 2, db + kk * 2, acc, kk > 0);
              wgmma_commit();
              if constexpr (kSaRowMajor) {
                if (w == 0) {
                  sa_acquire();
                  float touch = 0.0f;
#pragma unroll
                  for (int v = 0; v < kWaves; ++v) {
                    sc[v] = scales(stage, sb, v);
                    touch += sc[v].x + sc[v].y;
                  }
                  sa_release(touch);
                }
              }
              wgmma_wait<0>();
              fence_registers<kBlockN / 2>(acc);
              if (w == kWaves - 1) {
                release(stage);
                advance();
              }
              promote(acc, sc[w], 0, kBlockN / 8, w);
            }
          }
        }
      };
      dispatch_scale_split<kBlockN>(n_base, main_loop);

      if constexpr (kLateEpilogue) {
        pending = t;
        has_pending = true;
      } else {
        if constexpr (kStreamK) {
          if (t.sk_slot >= 0) {  // the rest of K of another CTA's tile
            sk_store_partial(t.sk_slot);
            continue;
          }
          for (int c = t.sk_first; c <= t.sk_last; ++c) {
            if (sched.has_range(c)) sk_add_partial(c);
          }
        }
        epilogue(t);
      }
    }
    if constexpr (kLateEpilogue) {
      if (has_pending) epilogue(pending);
    }
    if (wg_leader) tma_store_wait_all();
    FP8GEMM_CTA_TRACE_CODE(if (threadIdx.x == 0) trace_print(trace_t0, trace_t1 - trace_t0, trace_first, trace_second, trace_last, trace_tiles);)
  }

  // No CTA may leave while its peer can still arrive on its barriers. The .aligned cluster
  // barrier needs every lane of a warp to arrive together: the producer's and the store
  // leader's lanes return from single-lane branches, so converge first.
  if constexpr (kCluster > 1) {
    __syncwarp();
    cluster_sync();
  }
#endif
}

}  // namespace fp8gemm::sm90
