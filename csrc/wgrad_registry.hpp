// The table of compiled weight-gradient (1D1D) kernels, generated at build time
// (csrc/gen_kernels.py writes registry_wgrad.cpp), and the launch record they take.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

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

struct LaunchWgrad {
  CUtensorMap tmap_a, tmap_b, tmap_sa, tmap_sb, tmap_d;
  WgradArgs args;
  int grid;
  int device;
  bool pdl;
  cudaStream_t stream;
};

using LaunchWgradFn = cudaError_t (*)(const LaunchWgrad&);

struct KernelWgrad {
  WgradConfig config;
  LaunchWgradFn launch;
};

extern const KernelWgrad kKernelsWgrad[];
extern const int kNumKernelsWgrad;

}  // namespace fp8gemm
