// Config selection: which compiled kernel serves a call, and with how many CTAs.
#pragma once

#include <cstdint>
#include <string>

#include "gemm_registry.hpp"

namespace fp8gemm {

// The cost models' shared machine constants, in SM clock cycles (H100 SXM), used by the
// 1D2D heuristic (heuristics.cpp) and the 1D1D one (wgrad_heuristics.cpp); each model
// keeps its own kernel-specific penalties next to it.
namespace model {
// NOTES: dense FP8 wgmma peak per SM (1979 TFLOPS / 132 SMs / 1.83 GHz ~ 8192 flops per
// clock), so a 128x128x128 block costs 512 clocks.
inline constexpr double kMmaFlopsPerClk = 8192.0;
// NOTES: shared-memory bandwidth per SM. wgmma reads both operands from shared memory,
// so this, not the tensor core, bounds 128x128 tiles at ~80% of peak
// (benchmarks/NOTES.md); 256x128 tiles move less per flop and measured +9%.
inline constexpr double kSmemBytesPerClk = 128.0;
// NOTES: L2-to-SM bandwidth a CTA can count on when all SMs stream at once (128x128
// tiles reach ~1200 TFLOPS, so at least 32 KB per ~610 clocks: 64 bytes per clock per
// SM, ~15 TB/s aggregate, much of it L2 hits close to the SM).
inline constexpr double kL2BytesPerClk = 64.0;
// NOTES: pipeline fill, epilogue and scheduling per tile.
inline constexpr double kTileOverhead = 600.0;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A 2-CTA multicast pair needs an even count of the blocks it pairs up (A is shared along
// N, B along M) and at least two SMs.
inline bool multicast_fits(Multicast mc, int64_t blocks_m, int64_t blocks_n, int num_sms) {
  if (num_sms < 2) return mc == Multicast::kNone;
  switch (mc) {
    case Multicast::kA: return blocks_n % 2 == 0;
    case Multicast::kB: return blocks_m % 2 == 0;
    default: return true;
  }
}
}  // namespace model

struct Selection {
  const Kernel1D2D* kernel;
  int grid;          // CTAs launched (a multiple of the cluster size)
  double est_cycles; // the model's estimate, for printing and tests
};

// The 1D2D kernel of `layout` for an M x N x K problem with `out` output on `num_sms` SMs.
// Dense and contiguous: m is the number of rows of A. Masked and offset: m is the expected
// rows per group (the host does not know the real counts) and `groups` the group count.
// Cached per argument tuple; thread-safe. sa_row_major: the row-major-scale twin of the
// config the heuristic picks for canonical scales (kernel nullptr when the build lacks it).
Selection select_1d2d(Layout layout, int64_t m, int64_t n, int64_t k, int64_t groups, OutDtype out, int num_sms,
                      bool sa_row_major = false);

// Testing hook: serve every call whose layout, dtype and shape allow it with
// kKernels1D2D[index] (-1: back to the heuristic).
void force_kernel_1d2d(int index);
int forced_kernel_1d2d();  // the forced index, or -1

// Batch-invariant mode. Every compiled kernel reduces K for an output element in one fixed
// order (k32 steps in the tensor core, then fp32 promotion block by block, with no split of
// K across CTAs), so a row's result is bitwise the same whatever the config, M or the other
// rows. It is the switch any schedule that changes the reduction order must honour by
// standing aside: the swap-AB decode kernels (split K, csrc/swapab.cpp) do; select_1d2d
// keys its cache on it. tests/test_gpu_robustness.py checks the property
// over every compiled config.
void set_batch_invariant(bool on);
bool batch_invariant();

std::string describe(const KernelConfig& c);
const char* layout_name(Layout l);

}  // namespace fp8gemm
