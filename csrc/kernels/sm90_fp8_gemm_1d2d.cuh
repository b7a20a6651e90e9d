// Dense FP8 GEMM, "1D2D" recipe (DeepSeek-V3): D[M,N] = (A * sa) @ (B * sb)^T with
// A [M,K] e4m3 scaled per row and 128-column block (sa, 1x128), B [N,K] e4m3 scaled
// per 128x128 block (sb). FP8 tensor-core partial sums of each 128-wide K block are
// promoted into fp32 registers with the product of the two scales.
//
// Structure: a persistent grid; warpgroup kMathWG (the last) is the producer, whose
// first warp feeds a kStages-deep shared-memory ring through TMA (A/B tiles, with
// cluster multicast of one operand) and cp.async (scales); warpgroups 0..kMathWG-1
// each own 64 rows of the tile, run wgmma on them and write their rows back through
// a 32-byte-swizzled staging buffer and TMA stores.
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>

#include "sm90_gemm_layout.hpp"
#include "sm90_ptx.cuh"
#include "sm90_scheduler.cuh"
#include "sm90_wgmma_fp8.cuh"  // generated at build time: WgmmaFp8<N>

namespace fp8gemm::sm90 {

template <typename OutT>
struct OutTraits;
template <>
struct OutTraits<__nv_bfloat16> {
  static constexpr int kChunkCols = 16;  // 32 bytes per staged row chunk
};
template <>
struct OutTraits<float> {
  static constexpr int kChunkCols = 8;
};

template <int kBlockM, int kBlockN, int kStages, Multicast kMulticast, typename OutT>
__global__ void __launch_bounds__((kBlockM / 64 + 1) * 128, 1)
    fp8_gemm_1d2d_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                         const __grid_constant__ CUtensorMap tmap_d, const GemmArgs args) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(kBlockM == 64 || kBlockM == 128, "one math warpgroup per 64 rows");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 192, "block_n");
  constexpr int kMathWG = kBlockM / 64;
  constexpr int kMathThreads = kMathWG * 128;
  constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  constexpr uint32_t kTileA = kBlockM * kBlockK;
  constexpr uint32_t kTileB = kBlockN * kBlockK;
  constexpr SmemLayout kLayout = gemm_1d2d_smem(kBlockM, kBlockN, kStages, sizeof(OutT));
  constexpr int kChunkCols = OutTraits<OutT>::kChunkCols;
  constexpr int kChunkBytes = 64 * 32;  // one 64-row x 32-byte staged chunk
  constexpr int kChunkN = kBlockN / 2;  // wgmma N of one of the two MMA chunks per K block
  constexpr int kChunkRegs = kChunkN / 2;
  // NOTES: register split after setmaxnreg. Two accumulator sets of kBlockN / 2 floats
  // plus ~30 addresses and scales per math thread: 224 covers block_n <= 160; 192 needs
  // 232. The producer's loop spills below ~56. Totals stay within 64K registers per SM.
  constexpr uint32_t kMathRegs = kMathWG == 1 ? 240 : (kBlockN >= 192 ? 232 : 224);
  constexpr uint32_t kProducerRegs = kMathWG == 1 ? 56 : (kBlockN >= 192 ? 40 : 56);
  static_assert(kMathRegs * kMathThreads + kProducerRegs * 128 <= 65536, "register budget");

  extern __shared__ uint8_t smem_raw[];
  // Same padding in every CTA, so multicast offsets agree across the cluster.
  uint8_t* smem = smem_raw + ((kSmemAlign - (smem_addr(smem_raw) % kSmemAlign)) % kSmemAlign);
  uint8_t* smem_a = smem + kLayout.a_offset;
  uint8_t* smem_b = smem + kLayout.b_offset;
  uint8_t* smem_d = smem + kLayout.d_offset;
  float* smem_sa = reinterpret_cast<float*>(smem + kLayout.sa_offset);
  float* smem_sb = reinterpret_cast<float*>(smem + kLayout.sb_offset);
  uint64_t* full = reinterpret_cast<uint64_t*>(smem + kLayout.bar_offset);
  uint64_t* empty = full + kStages;

  const int m = args.m, n = args.n;
  const int num_kb = (args.k + kBlockK - 1) / kBlockK;
  const int warpgroup = threadIdx.x / 128;
  const int lane = threadIdx.x % 32;
  const uint32_t rank = kCluster > 1 ? cluster_cta_rank() : 0;

  if (threadIdx.x == kMathThreads) {
    tma_prefetch_descriptor(&tmap_a);
    tma_prefetch_descriptor(&tmap_b);
    tma_prefetch_descriptor(&tmap_d);
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      // One arrive.expect_tx from the TMA issuer plus one cp.async arrival per producer lane.
      mbarrier_init(&full[s], 1 + 32);
      // One arrival per math warp of every CTA whose producer writes into this stage.
      mbarrier_init(&empty[s], kMathWG * 4 * kCluster);
    }
    fence_barrier_init();
  }
  if constexpr (kCluster > 1) {
    cluster_sync();
  } else {
    __syncthreads();
  }

  const DenseScheduler<kBlockM, kBlockN, kMulticast> sched(m, n, rank);

  if (warpgroup == kMathWG) {
    // ------------------------------------------------------------ producer
    regs_decrease<kProducerRegs>();
    if (threadIdx.x < kMathThreads + 32) {  // the producer's first warp
      int stage = 0;
      uint32_t phase = 0;
      int m_block, n_block;
      for (int i = 0; sched.tile(i, m_block, n_block); ++i) {
        const int m_base = m_block * kBlockM;
        const int n_base = n_block * kBlockN;
        const int sb_row0 = n_base / 128;
        for (int kb = 0; kb < num_kb; ++kb) {
          mbarrier_wait(&empty[stage], phase ^ 1);
          float* sa_dst = smem_sa + stage * kBlockM;
#pragma unroll
          for (int r = lane; r < kBlockM; r += 32) {
            const int row = m_base + r;
            const bool ok = row < m;
            cp_async_4(sa_dst + r, ok ? args.sa + row * args.sa_stride_m + kb * args.sa_stride_k : args.sa, ok);
          }
          if (lane < 2) {
            const int row = sb_row0 + lane;
            const bool ok = row < args.sb_rows;
            cp_async_4(smem_sb + stage * 2 + lane,
                       ok ? args.sb + row * args.sb_stride_n + kb * args.sb_stride_k : args.sb, ok);
          }
          cp_async_mbarrier_arrive(&full[stage]);
          if (lane == 0) {
            mbarrier_arrive_expect_tx(&full[stage], kTileA + kTileB);
            uint8_t* a_dst = smem_a + stage * kTileA;
            uint8_t* b_dst = smem_b + stage * kTileB;
            const int k0 = kb * kBlockK;
            if constexpr (kMulticast == Multicast::kA) {
              tma_load_2d_multicast(a_dst + rank * (kTileA / 2), &tmap_a, &full[stage], 0x3, k0,
                                    m_base + rank * (kBlockM / 2));
            } else {
              tma_load_2d(a_dst, &tmap_a, &full[stage], k0, m_base);
            }
            if constexpr (kMulticast == Multicast::kB) {
              tma_load_2d_multicast(b_dst + rank * (kTileB / 2), &tmap_b, &full[stage], 0x3, k0,
                                    n_base + rank * (kBlockN / 2));
            } else {
              tma_load_2d(b_dst, &tmap_b, &full[stage], k0, n_base);
            }
          }
          __syncwarp();
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
    uint8_t* d_stage = smem_d + warpgroup * (64 * kBlockN * sizeof(OutT));

    float acc[kBlockN / 2];
    float fin[kBlockN / 2];
    int stage = 0;
    uint32_t phase = 0;
    int m_block, n_block;
    for (int i = 0; sched.tile(i, m_block, n_block); ++i) {
      const int m_base = m_block * kBlockM;
      const int n_base = n_block * kBlockN;
      // Columns at or past `boundary` (tile-relative) use the second weight-scale row.
      const int boundary = 128 - n_base % 128;
#pragma unroll
      for (int j = 0; j < kBlockN / 2; ++j) fin[j] = 0.0f;

      for (int kb = 0; kb < num_kb; ++kb) {
        mbarrier_wait(&full[stage], phase);
        const float sa0 = smem_sa[stage * kBlockM + warpgroup * 64 + row0];
        const float sa1 = smem_sa[stage * kBlockM + warpgroup * 64 + row0 + 8];
        const float sb0 = smem_sb[stage * 2];
        const float sb1 = smem_sb[stage * 2 + 1];
        const uint64_t desc_a = make_smem_desc_sw128(smem_a + stage * kTileA + warpgroup * 64 * kBlockK);
        const uint64_t desc_b = make_smem_desc_sw128(smem_b + stage * kTileB);

        // The tile's N is issued as two chunks with one commit group each: the first
        // chunk's partial sums are promoted while the tensor core still works on the
        // second, so only half of the promotion sits on the critical path.
        fence_registers<kBlockN / 2>(acc);
        wgmma_fence();
#pragma unroll
        for (int c = 0; c < 2; ++c) {
#pragma unroll
          for (int kk = 0; kk < kBlockK / 32; ++kk) {
            // 32 fp8 along K = 32 bytes = 2 units of the descriptor's 16-byte address field.
            WgmmaFp8<kChunkN>::mma(desc_a + kk * 2, desc_b + c * (kChunkN * kBlockK / 16) + kk * 2,
                                   acc + c * kChunkRegs, kk > 0);
          }
          wgmma_commit();
        }
        fence_registers<kBlockN / 2>(acc);

        const float p00 = sa0 * sb0, p10 = sa1 * sb0, p01 = sa0 * sb1, p11 = sa1 * sb1;
        auto promote = [&](int c) {
#pragma unroll
          for (int jj = 0; jj < kChunkN / 8; ++jj) {
            const int j = c * (kChunkN / 8) + jj;
            const bool hi = j * 8 >= boundary;
            const float s0 = hi ? p01 : p00;
            const float s1 = hi ? p11 : p10;
            fin[4 * j + 0] += acc[4 * j + 0] * s0;
            fin[4 * j + 1] += acc[4 * j + 1] * s0;
            fin[4 * j + 2] += acc[4 * j + 2] * s1;
            fin[4 * j + 3] += acc[4 * j + 3] * s1;
          }
        };
        wgmma_wait<1>();
        fence_registers<kChunkRegs>(acc);
        promote(0);
        wgmma_wait<0>();
        fence_registers<kChunkRegs>(acc + kChunkRegs);

        // Stage consumed: release it to this CTA's producer and to the peer's.
        if (lane == 0) mbarrier_arrive(&empty[stage]);
        if constexpr (kCluster > 1) {
          if (lane == 1) mbarrier_arrive_cluster(&empty[stage], rank ^ 1);
        }
        promote(1);
        if (++stage == kStages) {
          stage = 0;
          phase ^= 1;
        }
      }

      // ---------------------------------------------------------- epilogue
      // The previous tile's stores must have read the staging buffer before it is rewritten.
      if (wg_leader) tma_store_wait_read();
      named_barrier_sync(1 + warpgroup, 128);
#pragma unroll
      for (int j = 0; j < kBlockN / 8; ++j) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = row0 + h * 8;
          const float v0 = fin[4 * j + 2 * h], v1 = fin[4 * j + 2 * h + 1];
          const int col = j * 8 + q * 2;  // tile-relative column of v0
          const int chunk = col / kChunkCols;
          const int byte_in_row = (col % kChunkCols) * sizeof(OutT);
          const int unit = (byte_in_row / 16) ^ ((r >> 2) & 1);  // 32-byte swizzle
          uint8_t* dst = d_stage + chunk * kChunkBytes + r * 32 + unit * 16 + byte_in_row % 16;
          if constexpr (sizeof(OutT) == 2) {
            *reinterpret_cast<__nv_bfloat162*>(dst) = __floats2bfloat162_rn(v0, v1);
          } else {
            *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
          }
        }
      }
      fence_proxy_async_smem();
      named_barrier_sync(1 + warpgroup, 128);
      if (wg_leader) {
        const int row = m_base + warpgroup * 64;
        if (row < m) {
#pragma unroll
          for (int c = 0; c < kBlockN / kChunkCols; ++c) {
            const int col = n_base + c * kChunkCols;
            if (col >= n) break;
            if (sizeof(OutT) == 4 && args.accumulate) {
              tma_reduce_add_2d(&tmap_d, d_stage + c * kChunkBytes, col, row);
            } else {
              tma_store_2d(&tmap_d, d_stage + c * kChunkBytes, col, row);
            }
          }
        }
        tma_store_commit();
      }
    }
    if (wg_leader) tma_store_wait_all();
  }

  // No CTA may leave while its peer can still arrive on its barriers.
  if constexpr (kCluster > 1) {
    cluster_sync();
  }
#endif
}

}  // namespace fp8gemm::sm90
