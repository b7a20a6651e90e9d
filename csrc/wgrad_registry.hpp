// The table of compiled weight-gradient (1D1D) kernels, generated at build time
// (csrc/gen_kernels.py writes registry_wgrad.cpp, their cubins embedded).
#pragma once

#include "cuda_driver.hpp"
#include "gemm_registry.hpp"
#include "kernels/sm90_wgrad_layout.hpp"

namespace fp8gemm {

struct WgradConfig {
  int block_m, block_n, stages;
  Multicast multicast;
  bool k_grouped;
  int smem_bytes;
  int cluster() const { return multicast == Multicast::kNone ? 1 : 2; }
};

// One compiled 1D1D config and its cubin. The kernel takes (CUtensorMap a, b, sa, sb, d,
// WgradArgs) by value.
struct KernelWgrad {
  WgradConfig config;
  const KernelImage* image;
};

extern const KernelWgrad kKernelsWgrad[];
extern const int kNumKernelsWgrad;

}  // namespace fp8gemm
