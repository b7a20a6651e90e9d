// The weight-gradient ops (1D1D recipe, fp32 out): dense and k-grouped, and the config
// selection of their kernel family.
#pragma once

#include <cstdint>
#include <string>

#include <torch/csrc/stable/tensor.h>

#include "wgrad_registry.hpp"

namespace fp8gemm {

using torch::stable::Tensor;

Tensor wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb);
void wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor out);
Tensor k_grouped_wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks);
void k_grouped_wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks, Tensor out);

struct WgradSelection {
  const KernelWgrad* kernel;
  int grid;           // CTAs launched (a multiple of the cluster size)
  double est_cycles;  // the model's estimate
};

// The 1D1D kernel for an M x N problem of `groups` groups of about `k` each (dense: groups
// = 1) on `num_sms` SMs; `accumulate`: out is read and added. Cached; thread-safe.
WgradSelection select_wgrad(bool k_grouped, int64_t m, int64_t n, int64_t k, int64_t groups, bool accumulate,
                            int num_sms);
// Testing hook: serve every call the config allows with kKernelsWgrad[index] (-1: heuristic).
void force_kernel_wgrad(int index);
std::string describe_wgrad(const WgradConfig& c);

}  // namespace fp8gemm
