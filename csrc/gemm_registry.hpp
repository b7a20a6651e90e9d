// The table of compiled kernels. Each config of the fixed grid is one translation
// unit generated at build time (csrc/gen_kernels.py); the generated registry lists
// them with their launch functions, and the heuristic picks among them.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include "kernels/sm90_gemm_layout.hpp"

namespace fp8gemm {

enum class OutDtype : int { kBF16 = 0, kF32 = 1 };

struct KernelConfig {
  int block_m, block_n, stages;
  Multicast multicast;
  OutDtype out;
  int smem_bytes;
  Layout layout;
  int cluster() const { return multicast == Multicast::kNone ? 1 : 2; }
};

struct Launch1D2D {
  CUtensorMap tmap_a, tmap_b, tmap_sa, tmap_d;
  GemmArgs args;
  int grid;
  int device;
  bool pdl;  // launch with programmatic stream serialization (see set_pdl)
  cudaStream_t stream;
};

using Launch1D2DFn = cudaError_t (*)(const Launch1D2D&);

struct Kernel1D2D {
  KernelConfig config;
  Launch1D2DFn launch;
};

extern const Kernel1D2D kKernels1D2D[];
extern const int kNumKernels1D2D;

}  // namespace fp8gemm
