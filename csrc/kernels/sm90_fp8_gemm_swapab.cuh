// Swap-AB dense FP8 GEMM for decode-sized M (issue 4), "1D2D" recipe:
// D[M,N] = (A * sa) @ (B * sb)^T computed as D^T[N,M] = B[N,K] A[M,K]^T, so that the
// weights B fill the wgmma's M side (64 rows per math warpgroup) and the few tokens its
// N side (kTok = 8..64 columns): no tensor-core lane computes padding rows, and the weight
// stream is the only large read.
//
// Grid: x = weight tiles (64 * kMathWG rows each) times the K split S, y = token tiles,
// z = groups. The M-grouped layouts (masked, offset; args.group_info set) launch one CTA
// column per group with y = 1: each CTA reads its group's rows from the device (clamped
// as the 1D2D scheduler does) and walks them in token tiles of kTok, one pass over its
// weight tile per token tile (decode groups fit one).
// The S CTAs of one weight tile form a thread-block cluster along K; CTA `rank` reduces
// K blocks [rank * Kb / S, (rank + 1) * Kb / S). Each CTA runs a warp-specialised TMA
// pipeline (one producer thread, kStages-deep ring of weight tile + token tile + token
// scales) feeding one or two math warpgroups that promote each 128-K block's partial sum
// with sa[token, kb] * sb[row block, kb], exactly as the 1D2D kernel does. The S partial
// tiles then meet in distributed shared memory: every CTA of the cluster sums a share of
// the output elements over the S partials in rank order 0, 1, ..., S-1 and stores them.
// The order is fixed, so results are bitwise reproducible run to run; they differ from the
// non-split kernels' (another summation order), so batch-invariant mode does not use
// this kernel (heuristics in csrc/swapab.cpp).
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>

#include "sm90_gemm_layout.hpp"
#include "sm90_ptx.cuh"
#include "sm90_swapab_layout.hpp"
#include "sm90_wgmma_fp8.cuh"  // generated at build time: WgmmaFp8<N>

namespace fp8gemm::sm90 {

// ---------------------------------------------------------------- cluster / cache-hint PTX used here only
__device__ __forceinline__ uint32_t cluster_num_ctas() {
  uint32_t n;
  asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(n));
  return n;
}

// The shared::cluster address of `local` (a shared::cta address) in CTA `rank` of the cluster.
__device__ __forceinline__ uint32_t map_to_cta(uint32_t local, uint32_t rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(rank));
  return remote;
}

// A cluster barrier (a CTA barrier without a cluster launch) with release/acquire ordering
// that counts threads, not warps: without .aligned it stays exact when the lanes of a warp
// arrive apart (after the producer's single-lane branch or a loop of uneven trip counts),
// where an .aligned barrier is undefined and may count a warp twice and open early.
__device__ __forceinline__ void cluster_barrier_sync() {
  asm volatile("barrier.cluster.arrive.release;\n\tbarrier.cluster.wait.acquire;" ::: "memory");
}

__device__ __forceinline__ float4 ld_shared_cluster_f4(uint32_t addr) {
  float4 v;
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(addr)
               : "memory");
  return v;
}

// L2 eviction policies: the weights are read once (evict first), the token tile by every
// weight tile (evict last).
__device__ __forceinline__ uint64_t l2_policy_evict_first() {
  uint64_t p;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(p));
  return p;
}
__device__ __forceinline__ uint64_t l2_policy_evict_last() {
  uint64_t p;
  asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(p));
  return p;
}

__device__ __forceinline__ void tma_load_2d_hint(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1,
                                                 uint64_t policy) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint"
      " [%0], [%1, {%3, %4}], [%2], %5;" ::"r"(smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "l"(policy)
      : "memory");
}

// ---------------------------------------------------------------- the kernel
// The kernel body; each config's `extern "C"` entry point (generated, csrc/gen_kernels.py)
// declares __launch_bounds__(swapab_threads(kMathWG), kCtasPerSm) and passes its
// __grid_constant__ tensor maps here by reference (see fp8_gemm_1d2d_body).
// kSaRowMajor: the 1x128 activation scales come as row-major [M, Kb] (rows sa_row_stride
// floats apart, read in place) instead of the canonical [Kb, align(M, 4)] layout.
// kGrouped: the masked and offset layouts (args.group_info, one CTA column per group,
// several token tiles per CTA); else dense, one token tile per CTA. (A loop over token tiles
// in the dense kernel cost it 2-5% on the decode shapes: the t8 kernel went from 64 to 115
// registers. benchmarks/NOTES.md #56.)
template <int kTok, int kMathWG, int kStages, int kCtasPerSm, typename OutT, bool kSaRowMajor, bool kGrouped>
__device__ __forceinline__ void fp8_gemm_swapab_body(const CUtensorMap& tmap_w, const CUtensorMap& tmap_t,
                                                     const CUtensorMap& tmap_sa, const GemmArgs& args) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kTok % 8 == 0 && kTok >= 8 && kTok <= 128, "token tile: a multiple of 8 (wgmma N)");
  static_assert(kMathWG == 1 || kMathWG == 2, "64 or 128 weight rows per CTA");
  static_assert(swapab_fits_registers(kTok, kMathWG, kCtasPerSm), "accumulators exceed the registers");
  constexpr int kRows = 64 * kMathWG;  // weight rows per CTA (D columns)
  constexpr int kMathThreads = 128 * kMathWG;
  constexpr int kThreads = swapab_threads(kMathWG);
  constexpr uint32_t kTileW = kRows * kBlockK;
  constexpr uint32_t kTileT = kTok * kBlockK;
  // Activation scales per stage: row-major, tok rows x 4 K blocks; canonical, tok + 4 floats
  // from the tile's first token rounded down to 4.
  constexpr uint32_t kTileSa = (kSaRowMajor ? kTok * 4 : kTok + 4) * sizeof(float);
  constexpr int kSaStride = swapab_sa_stage_floats(kTok, kSaRowMajor);
  constexpr int kSaTok = kSaRowMajor ? 4 : 1;  // floats from one token's scale to the next
  constexpr int kPart = swapab_part_stride(kMathWG);
  constexpr int kDepth = swapab_depth(kTok, kMathWG, kCtasPerSm);
  constexpr int kAccRegs = kTok / 2;
  constexpr SwapAbSmem kSmem = swapab_smem(kTok, kMathWG, kStages, kSaRowMajor);
  static_assert(kSmem.total <= swapab_smem_budget(kCtasPerSm), "shared-memory budget");
  static_assert(swapab_part_fits(kTok, kMathWG, kStages), "the partial tile reuses the ring");

  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = smem_raw + ((kSmemAlign - (smem_addr(smem_raw) % kSmemAlign)) % kSmemAlign);
  uint8_t* smem_w = smem + kSmem.w_offset;
  uint8_t* smem_t = smem + kSmem.t_offset;
  float* smem_sa = reinterpret_cast<float*>(smem + kSmem.sa_offset);
  float* part = reinterpret_cast<float*>(smem + kSmem.part_offset);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kSmem.bar_offset);
  uint64_t* empty = full + kStages;

  const uint32_t split = cluster_num_ctas();  // 1 without a cluster launch
  const uint32_t rank = cluster_cta_rank();
  const int n0 = static_cast<int>(blockIdx.x / split) * kRows;
  const int group = static_cast<int>(blockIdx.z);
  const int num_kb = (args.k + kBlockK - 1) / kBlockK;
  const int kb_begin = static_cast<int>(static_cast<int64_t>(rank) * num_kb / split);
  const int kb_end = static_cast<int>(static_cast<int64_t>(rank + 1) * num_kb / split);
  const bool masked = kGrouped && args.mmax > 0;
  // This group's weight rows and scales (dense: group 0).
  const int w_row = group * args.n + n0;
  const float* sb_base = args.sb + static_cast<int64_t>(group) * args.sb_stride_g;

  if (threadIdx.x == kMathThreads) {
    tma_prefetch_descriptor(&tmap_w);
    tma_prefetch_descriptor(&tmap_t);
    tma_prefetch_descriptor(&tmap_sa);
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(&full[s], 1);               // the producer's arrive.expect_tx
      mbarrier_init(&empty[s], kMathWG * 4);    // one arrival per math warp
    }
    fence_barrier_init();
  }
  __syncthreads();
  // As in the 1D2D kernel: the prologue above may overlap the previous kernel under PDL;
  // no global memory is touched before it has finished.
  griddep_wait();
  griddep_launch_dependents();

  // Rows [row_begin, row_end) of A and D (A's row space; masked: g * Mmax + ...), and
  // tok_base: the row whose scales are column 0 of the canonical scale layout's group.
  int row_begin, row_end, tok_base = 0;
  if constexpr (!kGrouped) {
    row_begin = static_cast<int>(blockIdx.y) * kTok;
    row_end = min(args.m, row_begin + kTok);
  } else if (masked) {
    const int64_t v = args.group_info_64 ? static_cast<const int64_t*>(args.group_info)[group]
                                         : static_cast<const int*>(args.group_info)[group];
    tok_base = group * args.mmax;
    row_begin = tok_base;
    row_end = tok_base + static_cast<int>(v < 0 ? 0 : (v > args.mmax ? args.mmax : v));
  } else {
    // Offsets: the running maximum of clamp(offsets[h], 0, M) over h <= g and h <= g + 1
    // (groups never overlap and never leave [0, M)), each warp on its own.
    const int lane = threadIdx.x % 32;
    int lo = 0, hi = 0;
    for (int h = lane; h <= group + 1; h += 32) {
      const int64_t v = args.group_info_64 ? static_cast<const int64_t*>(args.group_info)[h]
                                           : static_cast<const int*>(args.group_info)[h];
      const int c = static_cast<int>(v < 0 ? 0 : (v > args.m ? args.m : v));
      if (h <= group) lo = max(lo, c);
      hi = max(hi, c);
    }
#pragma unroll
    for (int d = 16; d > 0; d /= 2) {
      lo = max(lo, __shfl_xor_sync(0xffffffffu, lo, d));
      hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, d));
    }
    row_begin = lo;
    row_end = max(lo, hi);
  }

  for (int m0 = row_begin; m0 < row_end; m0 += kTok) {
    // Each token tile starts on a freshly initialised ring (below), so the stage and phase
    // start as constants the compiler can fold, as in a single-tile launch.
    int stage = 0;
    uint32_t phase = 0;
    // The canonical scales' box starts on the column of m0 rounded down to 4 (16 bytes) and
    // reads 4 more: offset groups start on any row; the math threads skip sa_shift floats.
    const int sa_tok = m0 - tok_base;
    const int sa_shift = kSaRowMajor || !kGrouped ? 0 : sa_tok & 3;  // dense tiles start on multiples of 8
    const int sa_kb_row = masked ? group * num_kb : 0;

    if (threadIdx.x >= kMathThreads) {
      // ------------------------------------------------------------ producer warp
      // The whole warp walks the loop and lane 0 issues, so the warp stays converged (a warp
      // whose lanes reach a barrier apart may be counted twice by it).
      const bool issuer = threadIdx.x == kMathThreads;
      const uint64_t stream_policy = l2_policy_evict_first();
      const uint64_t keep_policy = l2_policy_evict_last();
      for (int kb = kb_begin; kb < kb_end; ++kb) {
        if (issuer) {
          mbarrier_wait(&empty[stage], phase ^ 1);
          mbarrier_arrive_expect_tx(&full[stage], kTileW + kTileT + kTileSa);
          const int k0 = kb * kBlockK;
          // Rows past N, tokens past M and columns past K arrive as zeros.
          tma_load_2d_hint(smem_w + stage * kTileW, &tmap_w, &full[stage], k0, w_row, stream_policy);
          tma_load_2d_hint(smem_t + stage * kTileT, &tmap_t, &full[stage], k0, m0, keep_policy);
          // Token scales, tokens past M zero: row kb of the canonical [Kb, align(M, 4)] layout
          // (masked: of group g's block), tok + 4 floats from sa_tok rounded down to 4; or from
          // row-major [rows, Kb] the box of tok rows and the 4 columns from kb rounded down to
          // a multiple of 4 (a box's innermost start coordinate must fall on 16 bytes; columns
          // past Kb arrive as zeros).
          if constexpr (kSaRowMajor) {
            tma_load_2d(smem_sa + stage * kSaStride, &tmap_sa, &full[stage], kb & ~3, m0);
          } else {
            tma_load_2d(smem_sa + stage * kSaStride, &tmap_sa, &full[stage], sa_tok - sa_shift, sa_kb_row + kb);
          }
        }
        __syncwarp();
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1;
        }
      }
    } else {
      // ------------------------------------------------------------ math warpgroups
      // Through a shuffle so the compiler knows it is warp-uniform: the weight tile's wgmma
      // descriptors derive from it. As threadIdx.x / 128 every descriptor was built in vector
      // registers and moved over with four R2UR per wgmma (184 in the t8 loop, 17 now;
      // 2048 -> 1744 instructions; NOTES #61).
      const int wg = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x / 128), 0);
      const int warp_in_wg = (threadIdx.x / 32) % 4;
      const int lane = threadIdx.x % 32;
      const int row0 = warp_in_wg * 16 + lane / 4;  // this thread's weight rows: row0, row0 + 8 of its 64
      const int q = lane % 4;                       // its tokens: j * 8 + 2q, j * 8 + 2q + 1
      // A warpgroup's 64 rows start on a multiple of 64, so they share one 128-row weight
      // scale per K block (the clamp only guards the row index).
      const int sb_row = min((n0 + wg * 64) / kBlockK, args.sb_rows - 1);
      const float* sb_ptr = sb_base + static_cast<int64_t>(sb_row) * args.sb_stride_n;
      auto load_sb = [&](int kb) {
        return __ldg(sb_ptr + static_cast<int64_t>(min(kb, num_kb - 1)) * args.sb_stride_k);
      };
      // Weight scales two K blocks ahead (an L2 round trip outlasts a block's MMAs).
      float sb_q0 = load_sb(kb_begin), sb_q1 = load_sb(kb_begin + 1);
      int sb_next_kb = kb_begin + 2;
      auto next_sb = [&] {
        const float v = sb_q0;
        sb_q0 = sb_q1;
        sb_q1 = load_sb(sb_next_kb++);
        return v;
      };

      float fin[kAccRegs];
#pragma unroll
      for (int j = 0; j < kAccRegs; ++j) fin[j] = 0.0f;
      // kDepth accumulator sets in flight: block i is issued into set i % kDepth while the
      // kDepth - 1 before it may still run; the oldest is promoted once wait_group leaves
      // only the newer ones pending (the 1D2D kernel's deferred loop).
      float accs[kDepth][kAccRegs];
      float sbv[kDepth];  // the weight scale of the block in each set
      int st[kDepth];     // the stage each set's block came from
      int sa_col[kDepth];  // row-major scales: the column of the set's K block in its stage's box
      int kb_issue = kb_begin;
      auto load_issue = [&](auto d_const) {
        constexpr int d = decltype(d_const)::value;
        mbarrier_wait(&full[stage], phase);
        sbv[d] = next_sb();
        const uint64_t da = make_smem_desc_sw128(smem_w + stage * kTileW + wg * 64 * kBlockK);
        const uint64_t db = make_smem_desc_sw128(smem_t + stage * kTileT);
        fence_registers<kAccRegs>(accs[d]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kBlockK / 32; ++kk) WgmmaFp8<kTok>::mma(da + kk * 2, db + kk * 2, accs[d], kk > 0);
        wgmma_commit();
        // No register fence here: touching the set while its group is in flight makes ptxas
        // serialize every wgmma (C7514); the wait before its promotion orders it.
        st[d] = stage;
        sa_col[d] = kSaRowMajor ? (kb_issue++ & 3) : 0;
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1;
        }
      };
      auto retire = [&](auto d_const) {
        constexpr int d = decltype(d_const)::value;
        fence_registers<kAccRegs>(accs[d]);
        // Promotion: column (token) c of the block scales by sa[c, kb] * sb[rows, kb], the
        // same product and the same fused multiply-add as the 1D2D kernel's promotion.
        const float* sa = smem_sa + st[d] * kSaStride + sa_shift + 2 * q * kSaTok + sa_col[d];
        // A value that depends on every scale load from the stage (mbarrier_arrive_after),
        // summed as a tree: a chain of kTok / 8 adds held up every 64-token retire (NOTES #49).
        float touch[kTok / 8];
#pragma unroll
        for (int j = 0; j < kTok / 8; ++j) {
          // Grouped canonical scales: two scalar loads (the box starts sa_shift floats before
          // m0, so a pair is not always 8-byte aligned); dense ones start on m0, 8-aligned.
          float2 s;
          if constexpr (kSaRowMajor || kGrouped) {
            s = make_float2(sa[j * 8 * kSaTok], sa[j * 8 * kSaTok + kSaTok]);
            touch[j] = s.x + s.y;
          } else {
            s = *reinterpret_cast<const float2*>(sa + j * 8);
            touch[j] = s.x;
          }
          const float s0 = s.x * sbv[d], s1 = s.y * sbv[d];
          fin[4 * j + 0] += accs[d][4 * j + 0] * s0;
          fin[4 * j + 1] += accs[d][4 * j + 1] * s1;
          fin[4 * j + 2] += accs[d][4 * j + 2] * s0;
          fin[4 * j + 3] += accs[d][4 * j + 3] * s1;
        }
#pragma unroll
        for (int w = 1; w < kTok / 8; w *= 2) {
#pragma unroll
          for (int j = 0; j + w < kTok / 8; j += 2 * w) touch[j] += touch[j + w];
        }
        __syncwarp();  // every lane has issued its reads of the stage's scales
        mbarrier_arrive_after(&empty[st[d]], touch[0], lane == 0);
      };
      deferred_pipeline<kDepth>(kb_end - kb_begin, load_issue, retire);

      // This CTA's partial tile, transposed to D's orientation: part[token][weight row]. It
      // overwrites the ring: every issued load has landed and been consumed (each math warp
      // waited on every full barrier and on its last wgmma group), and the barrier keeps the
      // other warpgroup's and warps' last MMAs from still reading it.
      named_barrier_sync(1, kMathThreads);
#pragma unroll
      for (int j = 0; j < kTok / 8; ++j) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            part[(j * 8 + 2 * q + e) * kPart + wg * 64 + row0 + 8 * h] = fin[4 * j + 2 * h + e];
          }
        }
      }
    }

    // ---------------------------------------------------------------- cluster reduction and store
    // Every partial is written (and, through the barrier's release/acquire, visible to the
    // whole cluster) before anyone reads; then all threads of the cluster share the reads.
    // (With the .aligned barriers here, one run of the 8-thread stress test gave a wrong
    // (1, 2112, 7168) result: a barrier that opened early, see cluster_barrier_sync.)
    // Without a cluster, the math warps that wrote the tile store it, after a barrier among
    // themselves; the producer warp reads none of it. (With the producer's reads behind a
    // CTA-wide barrier, racecheck reported them as racing the math warps' writes, NOTES #33.)
    int first = static_cast<int>(rank) * kThreads + static_cast<int>(threadIdx.x);
    int stride = static_cast<int>(split) * kThreads;
    bool stores = true;
    if (split > 1) {
      cluster_barrier_sync();
    } else {
      stores = threadIdx.x < kMathThreads;
      if (stores) named_barrier_sync(1, kMathThreads);
      first = static_cast<int>(threadIdx.x);
      stride = kMathThreads;
    }
    constexpr int kVecs = kRows / 4;  // 4-column vectors per token row of the tile
    const int rows = min(kTok, row_end - m0);
    const int items = stores ? rows * kVecs : 0;
    for (int i = first; i < items; i += stride) {
      const int r = i / kVecs, v = i % kVecs;
      const int col = n0 + v * 4;
      if (col >= args.n) continue;  // N % 8 == 0: a vector is wholly inside or outside
      const float* mine = part + r * kPart + v * 4;
      // All S loads first (they overlap), then the sum in rank order. Without a cluster,
      // the own tile through a plain shared-memory load.
      float4 p[kSwapAbMaxSplit];
      if (split == 1) {
        p[0] = *reinterpret_cast<const float4*>(mine);
      } else {
#pragma unroll
        for (uint32_t c = 0; c < kSwapAbMaxSplit; ++c) {
          if (c < split) p[c] = ld_shared_cluster_f4(map_to_cta(smem_addr(mine), c));
        }
      }
      float4 sum = p[0];
#pragma unroll
      for (uint32_t c = 1; c < kSwapAbMaxSplit; ++c) {
        if (c < split) {
          sum.x += p[c].x;
          sum.y += p[c].y;
          sum.z += p[c].z;
          sum.w += p[c].w;
        }
      }
      OutT* dst = static_cast<OutT*>(args.d) + static_cast<int64_t>(m0 + r) * args.ldd + col;
      if constexpr (sizeof(OutT) == 2) {
        const __nv_bfloat162 lo = __floats2bfloat162_rn(sum.x, sum.y);
        const __nv_bfloat162 hi = __floats2bfloat162_rn(sum.z, sum.w);
        uint2 packed;
        packed.x = *reinterpret_cast<const uint32_t*>(&lo);
        packed.y = *reinterpret_cast<const uint32_t*>(&hi);
        *reinterpret_cast<uint2*>(dst) = packed;
      } else {
        float4* d4 = reinterpret_cast<float4*>(dst);
        if (args.accumulate) {
          const float4 o = *d4;
          sum.x = o.x + sum.x;
          sum.y = o.y + sum.y;
          sum.z = o.z + sum.z;
          sum.w = o.w + sum.w;
        }
        *d4 = sum;
      }
    }
    // No CTA may leave, or refill its ring for the next token tile, while a peer can still
    // read its partial tile; the partial tile's generic writes and reads come before the
    // next tile's TMA writes to the same bytes (proxy fence, then the barrier).
    const bool more = kGrouped && m0 + kTok < row_end;
    if (more) fence_proxy_async_smem();
    if (split > 1) {
      cluster_barrier_sync();
    } else if (more) {
      named_barrier_sync(2, kThreads);
    }
    if constexpr (!kGrouped) break;  // one token tile per CTA
    if (more) {
      // Every barrier of the ring is idle now (all loads landed and were consumed, every
      // arrival made): start the next tile's ring from stage 0, phase 0.
      if (threadIdx.x == kMathThreads) {
#pragma unroll
        for (int s = 0; s < kStages; ++s) {
          mbarrier_inval(&full[s]);
          mbarrier_inval(&empty[s]);
          mbarrier_init(&full[s], 1);
          mbarrier_init(&empty[s], kMathWG * 4);
        }
        fence_barrier_init();
      }
      named_barrier_sync(2, kThreads);
    }
  }  // token tiles
#endif
}

}  // namespace fp8gemm::sm90
