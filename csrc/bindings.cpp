// The whole public op surface: every schema and every registration, in sections.
// Fake (meta) kernels live in python/fp8gemm/_fake.py. A small C API for host-only
// queries (config selection, SM limit, the compiled grid) sits at the end; Python
// reaches it through ctypes, with no GPU needed.
#include <cstring>
#include <string>

#include <torch/csrc/stable/library.h>

#include "common.hpp"
#include "host_trace.hpp"
#include "cuda_driver.hpp"
#include "gemm_nt.hpp"
#include "grouped.hpp"
#include "heuristics.hpp"
#include "swapab.hpp"
#include "wgrad.hpp"

// ---------------------------------------------------------------- schemas
STABLE_TORCH_LIBRARY(fp8gemm, m) {
  // Dense, 1D2D recipe (a: 1x128 scales, b: 128x128 scales).
  m.def("gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, ScalarType? out_dtype=None) -> Tensor");
  m.def("gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor(a!) out, bool accumulate=False) -> ()");
  // M-grouped (MoE), 1D2D recipe, bf16 out. b: [G, N, K], sb: [G, ceil(N/128), Kb].
  m.def("m_grouped_gemm_nt_contiguous(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices) -> Tensor");
  m.def("m_grouped_gemm_nt_contiguous_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices, "
        "Tensor(a!) out) -> ()");
  m.def("m_grouped_gemm_nt_masked(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, "
        "int expected_m=0) -> Tensor");
  m.def("m_grouped_gemm_nt_masked_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, "
        "Tensor(a!) out, int expected_m=0) -> ()");
  m.def("m_grouped_gemm_nt_offset(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, "
        "int expected_m=0) -> Tensor");
  m.def("m_grouped_gemm_nt_offset_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, "
        "Tensor(a!) out, int expected_m=0) -> ()");
  // Weight gradients, 1D1D recipe (a and b: 1x128 scales along K), fp32 out; _out accumulates.
  m.def("wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb) -> Tensor");
  m.def("wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor(a!) out) -> ()");
  // K-grouped (MoE): a, b flat; sa [sum Kb, M], sb [sum Kb, N]; ks int32 [G] on the device.
  m.def("k_grouped_wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks) -> Tensor");
  m.def("k_grouped_wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks, Tensor(a!) out) -> ()");
}

// ---------------------------------------------------------------- CUDA implementations
STABLE_TORCH_LIBRARY_IMPL(fp8gemm, CUDA, m) {
  m.impl("gemm_nt", TORCH_BOX(&fp8gemm::gemm_nt));
  m.impl("gemm_nt_out", TORCH_BOX(&fp8gemm::gemm_nt_out));
  m.impl("m_grouped_gemm_nt_contiguous", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_contiguous));
  m.impl("m_grouped_gemm_nt_contiguous_out", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_contiguous_out));
  m.impl("m_grouped_gemm_nt_masked", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_masked));
  m.impl("m_grouped_gemm_nt_masked_out", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_masked_out));
  m.impl("m_grouped_gemm_nt_offset", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_offset));
  m.impl("m_grouped_gemm_nt_offset_out", TORCH_BOX(&fp8gemm::m_grouped_gemm_nt_offset_out));
  m.impl("wgrad_gemm_nt", TORCH_BOX(&fp8gemm::wgrad_gemm_nt));
  m.impl("wgrad_gemm_nt_out", TORCH_BOX(&fp8gemm::wgrad_gemm_nt_out));
  m.impl("k_grouped_wgrad_gemm_nt", TORCH_BOX(&fp8gemm::k_grouped_wgrad_gemm_nt));
  m.impl("k_grouped_wgrad_gemm_nt_out", TORCH_BOX(&fp8gemm::k_grouped_wgrad_gemm_nt_out));
}

// ---------------------------------------------------------------- host-only C API
namespace {
thread_local std::string g_last_error;
}

#ifdef FP8GEMM_HOST_TRACE
namespace fp8gemm::trace {
long long g_sum[16] = {};
long long g_count = 0;
}  // namespace fp8gemm::trace
#endif

namespace {
// One line per entry of a kernel table: `prefix` and the config's description.
template <typename Entry, typename Describe>
std::string grid_text(const Entry* table, int count, const char* prefix, Describe describe) {
  std::string s;
  for (int i = 0; i < count; ++i) s += prefix + describe(table[i].config) + "\n";
  return s;
}
}  // namespace

extern "C" {

// The config the dispatcher would use. kind: an op name (with or without _out). m: rows of
// A (dense, contiguous) or the expected rows per group (masked, offset). out: int[9] =
// block_m, block_n, block_k, stages, multicast (0 none, 1 a, 2 b), cluster, smem_bytes,
// grid, swap_ab. Returns 0, or -1 with fp8gemm_last_error() set.
__attribute__((visibility("default"))) int fp8gemm_select_config(const char* kind, int64_t m, int64_t n, int64_t k,
                                                                 int64_t num_groups, int num_sms, int out_f32,
                                                                 int mem_bw_gbs, int* out) {
  try {
    std::string op(kind);
    if (op.size() > 4 && op.compare(op.size() - 4, 4, "_out") == 0) op.resize(op.size() - 4);
    if (op == "wgrad_gemm_nt" || op == "k_grouped_wgrad_gemm_nt") {
      // Weight gradients: k is K (dense) or the expected K per group (num_groups groups).
      const bool kg = op == "k_grouped_wgrad_gemm_nt";
      if (!kg && num_groups != 1) throw std::invalid_argument("fp8gemm.select_config: wgrad_gemm_nt takes num_groups=1");
      if (m <= 0 || n <= 0 || k <= 0 || num_sms <= 0 || num_groups <= 0)
        throw std::invalid_argument("fp8gemm.select_config: m, n, k, num_groups and num_sms must be positive");
      const auto sel = fp8gemm::select_wgrad(kg, m, n, k, num_groups, true, num_sms);
      const auto& c = sel.kernel->config;
      const int vals[10] = {c.block_m, c.block_n, 128, c.stages, static_cast<int>(c.multicast), c.cluster(),
                            c.smem_bytes, sel.grid, 0, 0};
      std::memcpy(out, vals, sizeof(vals));
      return 0;
    }
    fp8gemm::Layout layout;
    if (op == "gemm_nt") {
      layout = fp8gemm::Layout::kDense;
    } else if (op == "m_grouped_gemm_nt_contiguous") {
      layout = fp8gemm::Layout::kContiguous;
    } else if (op == "m_grouped_gemm_nt_masked") {
      layout = fp8gemm::Layout::kMasked;
    } else if (op == "m_grouped_gemm_nt_offset") {
      layout = fp8gemm::Layout::kOffset;
    } else {
      throw std::invalid_argument("fp8gemm.select_config: unknown kind '" + std::string(kind) +
                                  "'; known: gemm_nt, m_grouped_gemm_nt_contiguous, m_grouped_gemm_nt_masked, "
                                  "m_grouped_gemm_nt_offset, wgrad_gemm_nt, k_grouped_wgrad_gemm_nt (each also with _out)");
    }
    if (layout == fp8gemm::Layout::kDense && num_groups != 1)
      throw std::invalid_argument("fp8gemm.select_config: gemm_nt takes num_groups=1");
    if (m <= 0 || n <= 0 || k <= 0 || num_sms <= 0 || num_groups <= 0 || mem_bw_gbs <= 0)
      throw std::invalid_argument(
          "fp8gemm.select_config: m, n, k, num_groups, num_sms and mem_bandwidth_gbs must be positive");
    if (layout != fp8gemm::Layout::kDense && out_f32)
      throw std::invalid_argument("fp8gemm.select_config: the grouped ops write bfloat16 only");
    const auto out_dt = out_f32 ? fp8gemm::OutDtype::kF32 : fp8gemm::OutDtype::kBF16;
    // Swap-AB (decode): block_m = token tile, block_n = weight rows, cluster = K split. The
    // masked and offset layouts run one CTA column per group (a group may hold 1.25 x m rows).
    const auto sw = layout == fp8gemm::Layout::kDense
                        ? fp8gemm::select_swapab(m, n, k, out_dt, num_sms, mem_bw_gbs)
                        : fp8gemm::select_swapab_grouped(layout, m, INT64_MAX, n, k, num_groups, num_sms, mem_bw_gbs);
    if (sw.kernel != nullptr) {
      const auto& c = sw.kernel->config;
      const int vals[10] = {c.tok, c.rows(), 128, c.stages, 0, sw.split,
                            c.smem_bytes, sw.grid_x * sw.grid_y * sw.grid_z, 1, 0};
      std::memcpy(out, vals, sizeof(vals));
      return 0;
    }
    const auto sel = fp8gemm::select_1d2d(layout, m, n, k, num_groups, out_dt, num_sms);
    const auto& c = sel.kernel->config;
    const int vals[10] = {c.block_m, c.block_n, 128, c.stages, static_cast<int>(c.multicast), c.cluster(),
                          c.smem_bytes, sel.grid, 0, c.stream_k ? 1 : 0};
    std::memcpy(out, vals, sizeof(vals));
    return 0;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return -1;
  }
}

__attribute__((visibility("default"))) const char* fp8gemm_last_error() { return g_last_error.c_str(); }

__attribute__((visibility("default"))) void fp8gemm_set_num_sms(int n) { fp8gemm::set_num_sms(n); }

// Programmatic dependent launch for every later launch (process-wide, opt-in).
__attribute__((visibility("default"))) void fp8gemm_set_pdl(int on) { fp8gemm::set_pdl(on != 0); }
__attribute__((visibility("default"))) int fp8gemm_get_pdl() { return fp8gemm::pdl_enabled() ? 1 : 0; }

// Batch-invariant mode: a row's result must not depend on M or on the other rows.
__attribute__((visibility("default"))) void fp8gemm_set_batch_invariant(int on) { fp8gemm::set_batch_invariant(on != 0); }
__attribute__((visibility("default"))) int fp8gemm_get_batch_invariant() { return fp8gemm::batch_invariant() ? 1 : 0; }

// The CUDA runtime linked into the library (always 0: none, kernels go through the driver
// API) and the driver's CUDA version (0 when no driver is installed), e.g. 13000 for 13.0.
__attribute__((visibility("default"))) void fp8gemm_cuda_versions(int* runtime, int* driver) {
  *runtime = 0;
  *driver = fp8gemm::drv::driver_version();
}

// The toolchain that assembled the embedded cubins, and the oldest driver (as a CUDA
// version, e.g. 12000) that loads them.
__attribute__((visibility("default"))) const char* fp8gemm_cubin_toolchain() { return fp8gemm::cubin_toolchain(); }
__attribute__((visibility("default"))) int fp8gemm_min_driver_cuda_version() {
  return fp8gemm::min_driver_cuda_version();
}
// Testing hook: pretend the driver supports CUDA `v` (e.g. 12080; 0 restores the truth).
__attribute__((visibility("default"))) void fp8gemm_pretend_driver_version(int v) {
  fp8gemm::drv::pretend_driver_version(v);
}
__attribute__((visibility("default"))) int fp8gemm_get_num_sms_limit() { return fp8gemm::get_num_sms_limit(); }

// Testing hook: route every legal call to compiled config `index` (-1 restores the heuristic).
__attribute__((visibility("default"))) void fp8gemm_force_kernel(int index) { fp8gemm::force_kernel_1d2d(index); }
__attribute__((visibility("default"))) int fp8gemm_num_kernels() { return fp8gemm::kNumKernels1D2D; }
// The same for the weight-gradient family (indices into fp8gemm_wgrad_kernel_grid()).
__attribute__((visibility("default"))) void fp8gemm_force_wgrad_kernel(int index) { fp8gemm::force_kernel_wgrad(index); }
__attribute__((visibility("default"))) int fp8gemm_num_wgrad_kernels() { return fp8gemm::kNumKernelsWgrad; }
__attribute__((visibility("default"))) const char* fp8gemm_wgrad_kernel_grid() {
  static const std::string text =
      grid_text(fp8gemm::kKernelsWgrad, fp8gemm::kNumKernelsWgrad, "wgrad_1d1d ",
                [](const fp8gemm::WgradConfig& c) { return fp8gemm::describe_wgrad(c); });
  return text.c_str();
}

// Swap-AB decode path (issue 4): on by default; off routes every dense call to the 1D2D kernel.
__attribute__((visibility("default"))) void fp8gemm_set_swap_ab(int on) { fp8gemm::set_swap_ab(on != 0); }
__attribute__((visibility("default"))) int fp8gemm_get_swap_ab() { return fp8gemm::swap_ab_enabled() ? 1 : 0; }
// Testing hook: serve dense calls with swap-AB config `index` and K split `split` (0: the
// heuristic's); index -1 restores the heuristic.
__attribute__((visibility("default"))) void fp8gemm_force_swapab(int index, int split) {
  fp8gemm::force_swapab(index, split);
}
__attribute__((visibility("default"))) int fp8gemm_num_swapab_kernels() { return fp8gemm::kNumKernelsSwapAb; }
// How many times (process-wide) an op copied activation scales into the canonical layout.
__attribute__((visibility("default"))) long long fp8gemm_num_sa_relayouts() { return fp8gemm::num_sa_relayouts(); }
__attribute__((visibility("default"))) const char* fp8gemm_swapab_grid() {
  static const std::string text =
      grid_text(fp8gemm::kKernelsSwapAb, fp8gemm::kNumKernelsSwapAb, "",
                [](const fp8gemm::SwapAbConfig& c) { return fp8gemm::describe(c); });
  return text.c_str();
}

#ifdef FP8GEMM_HOST_TRACE
// Development only: the per-label host-time sums (ns) since the last read, then resets.
__attribute__((visibility("default"))) long long fp8gemm_host_trace(long long* sums) {
  for (int i = 0; i < 16; ++i) {
    sums[i] = fp8gemm::trace::g_sum[i];
    fp8gemm::trace::g_sum[i] = 0;
  }
  const long long n = fp8gemm::trace::g_count;
  fp8gemm::trace::g_count = 0;
  return n;
}
#endif

// One line per compiled kernel config.
__attribute__((visibility("default"))) const char* fp8gemm_kernel_grid() {
  static const std::string text =
      grid_text(fp8gemm::kKernels1D2D, fp8gemm::kNumKernels1D2D, "gemm_1d2d ",
                [](const fp8gemm::KernelConfig& c) { return fp8gemm::describe(c); });
  return text.c_str();
}

}  // extern "C"
