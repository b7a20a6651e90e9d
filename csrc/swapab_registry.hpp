// The table of compiled swap-AB decode kernels (csrc/kernels/sm90_fp8_gemm_swapab.cuh),
// generated at build time by csrc/gen_kernels.py beside the 1D2D table.
#pragma once

#include "cuda_driver.hpp"
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
  bool sa_row_major;  // reads the activation scales as row-major [M, Kb] (in place)
  bool grouped;       // serves the masked and offset layouts (grid z = groups), not dense
  int rows() const { return 64 * math_wg; }
};

// One compiled swap-AB config and its cubin. The kernel takes (CUtensorMap w, t, sa,
// GemmArgs) by value; it is launched on a grid of (weight tiles x split, token tiles, 1), or
// for a grouped config (weight tiles x split, 1, groups), with clusters of `split` CTAs along
// x when split > 1.
struct KernelSwapAb {
  SwapAbConfig config;
  const KernelImage* image;
};

extern const KernelSwapAb kKernelsSwapAb[];
extern const int kNumKernelsSwapAb;

}  // namespace fp8gemm
