// Host code shared by the ops: argument checks with the SPEC's messages, result
// allocation, canonical scale layouts and the one launcher of the 1D2D kernel family.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>

#include "gemm_registry.hpp"

namespace fp8gemm {

using torch::headeronly::ScalarType;
using torch::stable::Tensor;

const char* dtype_name(ScalarType t);
std::vector<int64_t> sizes_of(const Tensor& t);
inline int64_t align4(int64_t x) { return (x + 3) / 4 * 4; }
inline int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

void check_dtype(const char* op, const char* name, const Tensor& t, ScalarType want);
void check_shape(const char* op, const char* name, const Tensor& t, const std::vector<int64_t>& want,
                 const char* formula);
// `t` is a CUDA tensor on `device` (the device of a).
void check_device(const char* op, const char* name, const Tensor& t, int device);
// `a` is a CUDA tensor; returns its device.
int check_first_device(const char* op, const Tensor& a);
void check_no_overlap(const char* op, const Tensor& out, const Tensor& t, const char* name);
// A [rows, K] fp8 operand read by TMA (the last two dims of a 3-D one): K-contiguous,
// 16-byte aligned rows. Returns the row stride in elements.
int64_t check_fp8_operand(const char* op, const char* name, const Tensor& t, int dims = 2);
// The checks every dense NT op (gemm_nt, wgrad_gemm_nt) shares, in this order: devices,
// the two fp8 operands, b's K, N % 8, the 2^31 bounds, sa as float [M, ceil(K/128)], sb's
// dtype. sb's shape is the caller's: it depends on the scaling recipe.
struct NtOperands {
  int64_t m, n, k, a_row_stride, b_row_stride;
  int device;
};
NtOperands check_nt_operands(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb);
// A 1-D int32 (or int64 where allowed) device tensor of `len` entries, contiguous.
void check_index_tensor(const char* op, const char* name, const Tensor& t, int device, int64_t len,
                        const char* formula, bool allow_int64);
// A bf16 `out` of shape `want`, contiguous, 16-byte aligned, on `device`.
void check_out_tensor(const char* op, const Tensor& out, int device, const std::vector<int64_t>& want,
                      const char* formula, bool allow_f32);

// Makes `device` current for the duration of a launch: torch's current device (switched
// only when it differs: the guard costs a shim round trip each way) and its primary CUDA
// context (cuTensorMapEncodeTiled needs a current context; a fresh thread has none).
class __attribute__((visibility("hidden"))) LaunchDevice {  // hidden like torch's DeviceGuard it holds
 public:
  explicit LaunchDevice(int device);

 private:
  std::optional<torch::stable::accelerator::DeviceGuard> guard_;
};
// torch's current CUDA stream on `device`.
CUstream current_stream(int device);

// A contiguous CUDA tensor, allocated through the shim directly (the boxed dispatcher
// costs ~10 us of host time per call).
Tensor empty_cuda(const std::vector<int64_t>& sizes, ScalarType dtype, int device);

// 1x128 scales in the canonical layout the kernel loads with TMA: per group column-major
// with leading dimension align(M, 4), 16-byte aligned. `sa` is [m, kb] (groups == 0) or
// [groups, m, kb]. Any other layout is copied into it (one small copy).
Tensor canonical_sa(const Tensor& sa, int64_t groups, int64_t m, int64_t kb);
// Whether `sa` ([m, kb], or [groups, m, kb] when groups > 0) is in that layout already.
bool is_canonical_sa(const Tensor& sa, int64_t groups, int64_t m, int64_t kb);
// How many times canonical_sa has copied (process-wide; for tests and diagnostics).
int64_t num_sa_relayouts();
// The row stride (floats) when the scales ([m, kb], or [groups, m, kb] when groups > 0) are
// row-major and a tensor map can read them in place as one [rows, kb] matrix (rows 16-byte
// aligned and evenly spaced across groups, at least 4 K blocks); 0 otherwise.
int64_t row_major_sa_stride(const Tensor& sa, int64_t groups, int64_t m, int64_t kb);

// One launch of the 1D2D family. The operands as the kernel sees them: A as a 2-D
// [a_rows, K] matrix, B as [b_rows, K] (groups stacked), the A scales as sa_groups
// canonical [Kb, align(sa_m, 4)] blocks stacked, D as [d_rows, N].
struct Launch1D2DSpec {
  const char* op;
  Layout layout;
  int device;
  int64_t m_model;  // rows for the heuristic: M, or the expected rows per group
  int64_t n, k, groups;
  const void* a;
  int64_t a_rows, a_row_stride;
  const void* b;
  int64_t b_rows, b_row_stride;
  const float* sa;
  int64_t sa_m, sa_groups;
  // sa_row_stride > 0: sa is row-major [a_rows, Kb] with rows that many floats apart, read in
  // place by the swap-AB kernels and by the 1D2D kernels' row-major twins.
  int64_t sa_row_stride;
  void* d;
  int64_t d_rows;
  OutDtype out;
  GemmArgs args;  // sb, strides, group info and accumulate filled in by the op
};
// Returns false, launching nothing, only for row-major scales when this build has no
// row-major twin of the chosen config: the caller then copies them into the canonical layout.
// like: a tensor on the device (the output) that a stream-K config's workspace is allocated
// like (the dense op passes its output; only dense configs are stream-K).
bool launch_1d2d(Launch1D2DSpec& s, const Tensor* like = nullptr);
// The kernel arguments both kernel families take from a spec: s.args plus its sizes and D.
GemmArgs gemm_args(const Launch1D2DSpec& s);

}  // namespace fp8gemm
