// Swap-AB decode path of the dense op (issue 4): config choice, the on/off switch, the
// testing hook and the launch. The kernel: csrc/kernels/sm90_fp8_gemm_swapab.cuh.
#pragma once

#include <cstdint>
#include <string>

#include "op_common.hpp"
#include "swapab_registry.hpp"

namespace fp8gemm {

struct SwapAbSelection {
  const KernelSwapAb* kernel;  // nullptr: the 1D2D kernel serves the problem
  int split;                   // K split = cluster size
  int grid_x, grid_y;          // weight tiles x split, token tiles (grouped: 1)
  int grid_z;                  // groups (dense: 1)
};

// The swap-AB config for a dense M x N x K problem on `num_sms` SMs of a device with
// `mem_bw_gbs` GB/s of memory bandwidth (DeviceInfo::mem_bw_gbs), or kernel == nullptr
// where the 1D2D kernel is the better (or the only allowed) choice: swap-AB off, batch-
// invariant mode on, a 1D2D config forced, or M past the measured crossover. sa_row_major:
// among the configs that read row-major activation scales in place (the same choice).
SwapAbSelection select_swapab(int64_t m, int64_t n, int64_t k, OutDtype out, int num_sms, int mem_bw_gbs,
                              bool sa_row_major = false);

// The swap-AB config for a masked or offset problem of `groups` groups of about
// `expected_m` rows (at most `max_rows` each) or kernel == nullptr where the 1D2D kernel
// serves it (bf16 output, as every grouped op).
SwapAbSelection select_swapab_grouped(Layout layout, int64_t expected_m, int64_t max_rows, int64_t n, int64_t k,
                                      int64_t groups, int num_sms, int mem_bw_gbs, bool sa_row_major = false);

// Process-wide switch (on by default), for before/after measurements.
void set_swap_ab(bool on);
bool swap_ab_enabled();

// Testing hook: serve every dense, masked and offset call of a matching output dtype and scale
// layout (row-major activation scales for an sa=row config, anything else for the others) with
// kKernelsSwapAb[index] and, when split > 0, that K split (clamped to [1, 8]); index -1
// restores the heuristic.
void force_swapab(int index, int split);

// Launches the swap-AB kernel for a dense problem when select_swapab chooses it; returns
// false (and does nothing) otherwise.
bool launch_swapab_if_chosen(const Launch1D2DSpec& s);
// Whether launch_swapab_if_chosen(s) would launch (the same rules; launches nothing).
bool swapab_chosen(const Launch1D2DSpec& s);

std::string describe(const SwapAbConfig& c);

}  // namespace fp8gemm
