// The table of compiled kernels. Each config of the fixed grid is one translation
// unit generated at build time (csrc/gen_kernels.py) and built into a cubin; the
// generated registry embeds the cubins and lists them with their configs, and the
// heuristic picks among them.
#pragma once

#include "cuda_driver.hpp"
#include "kernels/sm90_gemm_layout.hpp"

namespace fp8gemm {

enum class OutDtype : int { kBF16 = 0, kF32 = 1 };

struct KernelConfig {
  int block_m, block_n, stages;
  Multicast multicast;
  OutDtype out;
  int smem_bytes;
  Layout layout;
  // > 0: reads row-major [rows, Kb] A scales in place, sa_group K blocks per TMA box;
  // 0: the canonical layout.
  int sa_group;
  // Stream-K over the last round (dense): the K blocks of the tiles that do not fill a whole
  // round are spread over every CTA (sm90_scheduler.cuh, StreamKScheduler).
  bool stream_k;
  bool sa_row_major() const { return sa_group > 0; }
  int cluster() const { return multicast == Multicast::kNone ? 1 : 2; }
};

// One compiled 1D2D config: its parameters (for the heuristic) and its cubin. The kernel
// takes (CUtensorMap a, b, sa, d, GemmArgs), all by value.
struct Kernel1D2D {
  KernelConfig config;
  const KernelImage* image;
};

extern const Kernel1D2D kKernels1D2D[];
extern const int kNumKernels1D2D;

}  // namespace fp8gemm
