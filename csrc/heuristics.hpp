// Config selection: which compiled kernel serves a call, and with how many CTAs.
#pragma once

#include <cstdint>
#include <string>

#include "gemm_registry.hpp"

namespace fp8gemm {

struct Selection {
  const Kernel1D2D* kernel;
  int grid;          // CTAs launched (a multiple of the cluster size)
  double est_cycles; // the model's estimate, for printing and tests
};

// The 1D2D kernel of `layout` for an M x N x K problem with `out` output on `num_sms` SMs.
// Dense and contiguous: m is the number of rows of A. Masked and offset: m is the expected
// rows per group (the host does not know the real counts) and `groups` the group count.
// Cached per argument tuple; thread-safe.
Selection select_1d2d(Layout layout, int64_t m, int64_t n, int64_t k, int64_t groups, OutDtype out, int num_sms);

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
