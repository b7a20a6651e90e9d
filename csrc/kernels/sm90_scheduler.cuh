// Persistent tile scheduler for the dense layout.
//
// Work is cut into output tiles of kBlockM x kBlockN. With a cluster of two CTAs
// sharing one operand through TMA multicast, tiles are handed out in pairs: the
// two CTAs of a cluster get the two tiles of one "unit" (same m block and
// neighbouring n blocks when A is shared, the reverse when B is shared), and every
// CTA of the cluster walks the same number of units.
#pragma once

#include <cstdint>

#include "sm90_gemm_layout.hpp"

namespace fp8gemm::sm90 {

template <int kBlockM, int kBlockN, Multicast kMulticast>
struct DenseScheduler {
  static constexpr int kCluster = kMulticast == Multicast::kNone ? 1 : 2;
  // NOTES: 16 units along M per raster group keep roughly 16 A row-panels and one
  // wave's worth of B row-panels resident in L2 while a wave sweeps along N.
  static constexpr int kGroupM = 16;

  int units_m, units_n, num_units;
  int cluster_id, num_clusters, rank;

  __device__ __forceinline__ DenseScheduler(int m, int n, uint32_t cta_rank) {
    const int blocks_m = (m + kBlockM - 1) / kBlockM;
    const int blocks_n = (n + kBlockN - 1) / kBlockN;
    units_m = kMulticast == Multicast::kB ? blocks_m / 2 : blocks_m;
    units_n = kMulticast == Multicast::kA ? blocks_n / 2 : blocks_n;
    num_units = units_m * units_n;
    cluster_id = blockIdx.x / kCluster;
    num_clusters = gridDim.x / kCluster;
    rank = static_cast<int>(cta_rank);
  }

  // The i-th tile of this CTA; false when it has none left.
  __device__ __forceinline__ bool tile(int i, int& m_block, int& n_block) const {
    const int unit = cluster_id + i * num_clusters;
    if (unit >= num_units) return false;
    const int group_span = kGroupM * units_n;
    const int group = unit / group_span;
    const int first_m = group * kGroupM;
    const int group_m = min(kGroupM, units_m - first_m);
    const int in_group = unit - group * group_span;
    const int um = first_m + in_group % group_m;
    const int un = in_group / group_m;
    m_block = kMulticast == Multicast::kB ? um * 2 + rank : um;
    n_block = kMulticast == Multicast::kA ? un * 2 + rank : un;
    return true;
  }
};

}  // namespace fp8gemm::sm90
