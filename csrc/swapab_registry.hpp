// The table of compiled swap-AB decode kernels (csrc/kernels/sm90_fp8_gemm_swapab.cuh),
// generated at build time by csrc/gen_kernels.py beside the 1D2D table.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include "gemm_registry.hpp"
#include "kernels/sm90_swapab_layout.hpp"

namespace fp8gemm {

struct SwapAbConfig {
  int tok;      // token tile: the wgmma's N (a multiple of 8)
  int math_wg;  // math warpgroups: 64 weight rows each
  int stages;
  int ctas_per_sm;  // resident CTAs per SM the config is built for (shared memory, registers)
  OutDtype out;
  int smem_bytes;
  int rows() const { return 64 * math_wg; }
};

struct LaunchSwapAb {
  CUtensorMap tmap_w, tmap_t, tmap_sa;
  GemmArgs args;
  int grid_x, grid_y;  // weight tiles x split, token tiles
  int split;           // cluster size along K (1: no cluster)
  int device;
  bool pdl;
  cudaStream_t stream;
};

using LaunchSwapAbFn = cudaError_t (*)(const LaunchSwapAb&);

struct KernelSwapAb {
  SwapAbConfig config;
  LaunchSwapAbFn launch;
};

extern const KernelSwapAb kKernelsSwapAb[];
extern const int kNumKernelsSwapAb;

}  // namespace fp8gemm
