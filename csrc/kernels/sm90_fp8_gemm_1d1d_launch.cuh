// Host launcher of one 1D1D (weight-gradient) kernel instantiation; included by the
// generated translation units only.
#pragma once

#include <atomic>
#include <cstdint>

#include "../wgrad_registry.hpp"
#include "sm90_fp8_gemm_1d1d.cuh"

namespace fp8gemm {

template <int kBlockM, int kBlockN, int kStages, Multicast kMulticast, bool kKGrouped>
cudaError_t launch_fp8_wgrad_1d1d(const LaunchWgrad& p) {
  constexpr int kSmem = wgrad_smem(kBlockM, kBlockN, kStages, kKGrouped).total;
  static_assert(kSmem <= kMaxSmemBytes, "config exceeds shared memory");
  constexpr int kThreads = wgrad_threads(kBlockM);
  auto* kernel = &sm90::fp8_wgrad_1d1d_kernel<kBlockM, kBlockN, kStages, kMulticast, kKGrouped>;

  // The shared-memory opt-in is a per-device attribute: set it once per device.
  static std::atomic<uint64_t> configured{0};
  const uint64_t bit = uint64_t(1) << (p.device & 63);
  if (!(configured.load(std::memory_order_acquire) & bit)) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (err != cudaSuccess) return err;
    configured.fetch_or(bit, std::memory_order_acq_rel);
  }

  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(p.grid, 1, 1);
  cfg.blockDim = dim3(kThreads, 1, 1);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = p.stream;
  cudaLaunchAttribute attrs[2];
  cfg.attrs = attrs;
  cfg.numAttrs = 0;
  if constexpr (kMulticast != Multicast::kNone) {
    attrs[cfg.numAttrs].id = cudaLaunchAttributeClusterDimension;
    attrs[cfg.numAttrs].val.clusterDim.x = 2;
    attrs[cfg.numAttrs].val.clusterDim.y = 1;
    attrs[cfg.numAttrs].val.clusterDim.z = 1;
    ++cfg.numAttrs;
  }
  if (p.pdl) {
    attrs[cfg.numAttrs].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[cfg.numAttrs].val.programmaticStreamSerializationAllowed = 1;
    ++cfg.numAttrs;
  }
  return cudaLaunchKernelEx(&cfg, kernel, p.tmap_a, p.tmap_b, p.tmap_sa, p.tmap_sb, p.tmap_d, p.args);
}

}  // namespace fp8gemm
