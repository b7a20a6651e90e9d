// Host launcher of one swap-AB kernel instantiation; included by the generated
// translation units only.
#pragma once

#include <atomic>
#include <cstdint>

#include "../swapab_registry.hpp"
#include "sm90_fp8_gemm_swapab.cuh"

namespace fp8gemm {

template <int kTok, int kMathWG, int kStages, int kCtasPerSm, typename OutT>
cudaError_t launch_fp8_gemm_swapab(const LaunchSwapAb& p) {
  constexpr int kSmem = swapab_smem(kTok, kMathWG, kStages).total;
  static_assert(kSmem <= swapab_smem_budget(kCtasPerSm), "config exceeds the swap-AB shared-memory budget");
  auto* kernel = &sm90::fp8_gemm_swapab_kernel<kTok, kMathWG, kStages, kCtasPerSm, OutT>;

  // The shared-memory opt-in is a per-device attribute: set it once per device.
  static std::atomic<uint64_t> configured{0};
  const uint64_t bit = uint64_t(1) << (p.device & 63);
  if (!(configured.load(std::memory_order_acquire) & bit)) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (err != cudaSuccess) return err;
    configured.fetch_or(bit, std::memory_order_acq_rel);
  }

  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(p.grid_x, p.grid_y, 1);
  cfg.blockDim = dim3(swapab_threads(kMathWG), 1, 1);
  cfg.dynamicSmemBytes = kSmem;
  cfg.stream = p.stream;
  cudaLaunchAttribute attrs[2];
  cfg.attrs = attrs;
  cfg.numAttrs = 0;
  if (p.split > 1) {
    attrs[cfg.numAttrs].id = cudaLaunchAttributeClusterDimension;
    attrs[cfg.numAttrs].val.clusterDim.x = p.split;
    attrs[cfg.numAttrs].val.clusterDim.y = 1;
    attrs[cfg.numAttrs].val.clusterDim.z = 1;
    ++cfg.numAttrs;
  }
  if (p.pdl) {
    attrs[cfg.numAttrs].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[cfg.numAttrs].val.programmaticStreamSerializationAllowed = 1;
    ++cfg.numAttrs;
  }
  return cudaLaunchKernelEx(&cfg, kernel, p.tmap_w, p.tmap_t, p.tmap_sa, p.args);
}

}  // namespace fp8gemm
