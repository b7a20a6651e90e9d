// The dense ops: argument checks, tensor maps, config selection and launch.
#include "gemm_nt.hpp"

#include <optional>

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>

#include "common.hpp"
#include "heuristics.hpp"
#include "tma.hpp"

namespace fp8gemm {

using torch::headeronly::ScalarType;
using torch::stable::Tensor;

namespace {

const char* dtype_name(ScalarType t) {
  switch (t) {
    case ScalarType::Float8_e4m3fn: return "float8_e4m3fn";
    case ScalarType::Float: return "float32";
    case ScalarType::BFloat16: return "bfloat16";
    case ScalarType::Half: return "float16";
    case ScalarType::Int: return "int32";
    case ScalarType::Long: return "int64";
    case ScalarType::Double: return "float64";
    case ScalarType::Float8_e5m2: return "float8_e5m2";
    default: return "another dtype";
  }
}

std::vector<int64_t> sizes_of(const Tensor& t) {
  std::vector<int64_t> s(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) s[i] = t.size(i);
  return s;
}

void check_dtype(const char* op, const char* name, const Tensor& t, ScalarType want) {
  FP8GEMM_CHECK(t.scalar_type() == want, "fp8gemm.", op, ": ", name, " must be ", dtype_name(want), ", got ",
                dtype_name(t.scalar_type()));
}

void check_shape(const char* op, const char* name, const Tensor& t, const std::vector<int64_t>& want,
                 const char* formula) {
  FP8GEMM_CHECK(sizes_of(t) == want, "fp8gemm.", op, ": ", name, " must have shape ", formula, " = ",
                shape_str(want), ", got ", shape_str(sizes_of(t)));
}

void check_device(const char* op, const char* name, const Tensor& t, int device) {
  FP8GEMM_CHECK(t.is_cuda(), "fp8gemm.", op, ": ", name, " must be a CUDA tensor, got a tensor on another device");
  FP8GEMM_CHECK(t.get_device() == device, "fp8gemm.", op, ": ", name, " must be on cuda:", device,
                " like a, got cuda:", int(t.get_device()));
}

// [first byte, last byte + 1) of the elements `t` can reach.
std::pair<uintptr_t, uintptr_t> byte_span(const Tensor& t) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.data_ptr());
  int64_t last = 0;
  for (int64_t i = 0; i < t.dim(); ++i) last += (t.size(i) - 1) * t.stride(i);
  return {base, base + (last + 1) * t.element_size()};
}

void check_no_overlap(const char* op, const Tensor& out, const Tensor& t, const char* name) {
  if (out.numel() == 0 || t.numel() == 0) return;
  const auto a = byte_span(out), b = byte_span(t);
  FP8GEMM_CHECK(a.second <= b.first || b.second <= a.first, "fp8gemm.", op, ": out must not overlap ", name,
                " in memory");
}

// A [rows, K] fp8 operand read by TMA: K-contiguous, 16-byte aligned rows.
int64_t check_fp8_operand(const char* op, const char* name, const Tensor& t) {
  check_dtype(op, name, t, ScalarType::Float8_e4m3fn);
  FP8GEMM_CHECK(t.dim() == 2, "fp8gemm.", op, ": ", name, " must be 2-D [rows, K], got ", t.dim(), "-D ",
                shape_str(sizes_of(t)));
  const int64_t rows = t.size(0), k = t.size(1);
  FP8GEMM_CHECK(k % 16 == 0, "fp8gemm.", op, ": K must be a multiple of 16, got ", name, ".size(1) = K = ", k);
  FP8GEMM_CHECK(k <= 1 || t.stride(1) == 1, "fp8gemm.", op, ": ", name,
                " must be contiguous along K (stride(1) == 1), got strides [", t.stride(0), ", ", t.stride(1), "]");
  const int64_t row_stride = rows <= 1 ? k : t.stride(0);
  FP8GEMM_CHECK(row_stride % 16 == 0 && row_stride >= k, "fp8gemm.", op, ": ", name,
                " rows must be 16-byte aligned (stride(0) a multiple of 16, >= K), got stride(0) = ", row_stride);
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0, "fp8gemm.", op, ": ", name,
                " must start on a 16-byte boundary (its data pointer is offset by ",
                reinterpret_cast<uintptr_t>(t.data_ptr()) % 16, " bytes)");
  return row_stride;
}

struct DenseProblem {
  int64_t m, n, k, a_row_stride, b_row_stride;
  int device;
};

DenseProblem check_dense_inputs(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b,
                                const Tensor& sb) {
  FP8GEMM_CHECK(a.is_cuda(), "fp8gemm.", op, ": a must be a CUDA tensor, got a tensor on another device");
  const int device = a.get_device();
  check_device(op, "sa", sa, device);
  check_device(op, "b", b, device);
  check_device(op, "sb", sb, device);
  DenseProblem p{};
  p.device = device;
  p.a_row_stride = check_fp8_operand(op, "a", a);
  p.b_row_stride = check_fp8_operand(op, "b", b);
  p.m = a.size(0);
  p.k = a.size(1);
  p.n = b.size(0);
  FP8GEMM_CHECK(b.size(1) == p.k, "fp8gemm.", op, ": b must be [N, K] with the K of a (", p.k, "), got ",
                shape_str(sizes_of(b)));
  FP8GEMM_CHECK(p.n % 8 == 0, "fp8gemm.", op, ": N must be a multiple of 8, got N = ", p.n);
  FP8GEMM_CHECK(p.m <= INT32_MAX && p.n <= INT32_MAX && p.k <= INT32_MAX, "fp8gemm.", op,
                ": M, N and K must each be below 2^31, got ", p.m, ", ", p.n, ", ", p.k);
  const int64_t kb = (p.k + 127) / 128;
  check_dtype(op, "sa", sa, ScalarType::Float);
  check_shape(op, "sa", sa, {p.m, kb}, "[M, ceil(K/128)]");
  check_dtype(op, "sb", sb, ScalarType::Float);
  check_shape(op, "sb", sb, {(p.n + 127) / 128, kb}, "[ceil(N/128), ceil(K/128)]");
  return p;
}

// A contiguous [rows, cols] CUDA tensor through the allocation shim directly: going
// through the boxed dispatcher (new_empty) cost ~10 us of host time per call.
Tensor empty_2d(int64_t rows, int64_t cols, ScalarType dtype, int device) {
  const int64_t sizes[2] = {rows, cols};
  const int64_t strides[2] = {cols, 1};
  const int32_t dt = dtype == ScalarType::Float ? aoti_torch_dtype_float32() : aoti_torch_dtype_bfloat16();
  AtenTensorHandle handle = nullptr;
  STABLE_TORCH_ERROR_CODE_CHECK(
      aoti_torch_empty_strided(2, sizes, strides, dt, aoti_torch_device_type_cuda(), device, &handle));
  return Tensor(handle);
}

int64_t align4(int64_t x) { return (x + 3) / 4 * 4; }

// The 1x128 scales in the canonical layout the kernel loads with TMA: column-major with
// leading dimension align(M, 4), 16-byte aligned. Any other layout is copied into it
// (one small copy: M x ceil(K/128) floats).
Tensor canonical_sa(const Tensor& sa, int64_t m, int64_t kb) {
  const bool ok = (m <= 1 || sa.stride(0) == 1) && (kb <= 1 || sa.stride(1) == align4(m)) &&
                  reinterpret_cast<uintptr_t>(sa.data_ptr()) % 16 == 0;
  if (ok) return sa;
  Tensor storage = torch::stable::new_empty(sa, {kb, align4(m)});
  Tensor view = torch::stable::transpose(torch::stable::narrow(storage, 1, 0, m), 0, 1);
  torch::stable::copy_(view, sa);
  return view;
}

void launch_dense(const char* op, const DenseProblem& p, const Tensor& a, const Tensor& sa_in, const Tensor& b,
                  const Tensor& sb, Tensor& out, bool accumulate) {
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    if (!accumulate) torch::stable::zero_(out);
    return;
  }
  const OutDtype out_dtype = out.scalar_type() == ScalarType::Float ? OutDtype::kF32 : OutDtype::kBF16;
  // Switch devices only when needed: the guard costs a shim round trip each way.
  std::optional<torch::stable::accelerator::DeviceGuard> guard;
  if (torch::stable::accelerator::getCurrentDeviceIndex() != p.device) guard.emplace(p.device);
  const int64_t kb = (p.k + 127) / 128;
  const Tensor sa = canonical_sa(sa_in, p.m, kb);
  const int sms = usable_sms(p.device);
  const Selection sel = select_1d2d(p.m, p.n, p.k, out_dtype, sms);
  const KernelConfig& c = sel.kernel->config;
  FP8GEMM_CHECK(c.smem_bytes <= device_info(p.device).max_smem_optin, "fp8gemm.", op, ": cuda:", p.device,
                " offers ", device_info(p.device).max_smem_optin, " bytes of shared memory per block; the kernels need ",
                c.smem_bytes, " (an sm_90 GPU is required)");

  Launch1D2D l{};
  const int a_box_rows = c.multicast == Multicast::kA ? c.block_m / 2 : c.block_m;
  const int b_box_rows = c.multicast == Multicast::kB ? c.block_n / 2 : c.block_n;
  l.tmap_a = make_tma_2d(a.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_UINT8, p.m, p.k, p.a_row_stride, a_box_rows, 128,
                         CU_TENSOR_MAP_SWIZZLE_128B);
  l.tmap_b = make_tma_2d(b.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_UINT8, p.n, p.k, p.b_row_stride, b_box_rows, 128,
                         CU_TENSOR_MAP_SWIZZLE_128B);
  // A scales: a [Kb, M] row-major view of the canonical layout, one row of block_m per stage.
  l.tmap_sa = make_tma_2d(sa.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, kb, p.m, align4(p.m) * 4, 1, c.block_m,
                          CU_TENSOR_MAP_SWIZZLE_NONE);
  if (out_dtype == OutDtype::kBF16) {
    l.tmap_d = make_tma_2d(out.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, p.m, p.n, p.n * 2, 64, 16,
                           CU_TENSOR_MAP_SWIZZLE_32B);
  } else {
    l.tmap_d = make_tma_2d(out.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, p.m, p.n, p.n * 4, 64, 8,
                           CU_TENSOR_MAP_SWIZZLE_32B);
  }
  l.args.m = static_cast<int>(p.m);
  l.args.n = static_cast<int>(p.n);
  l.args.k = static_cast<int>(p.k);
  l.args.sb_rows = static_cast<int>((p.n + 127) / 128);
  l.args.sb = static_cast<const float*>(sb.data_ptr());
  l.args.sb_stride_n = sb.stride(0);
  l.args.sb_stride_k = sb.stride(1);
  l.args.accumulate = accumulate ? 1 : 0;
  l.grid = sel.grid;
  l.device = p.device;
  void* stream = nullptr;
  STABLE_TORCH_ERROR_CODE_CHECK(aoti_torch_get_current_cuda_stream(p.device, &stream));
  l.stream = static_cast<cudaStream_t>(stream);
  const cudaError_t err = sel.kernel->launch(l);
  if (err != cudaSuccess)
    throw std::runtime_error(cat("fp8gemm.", op, ": kernel launch failed (", describe(c), "): ",
                                 cudaGetErrorString(err)));
}

}  // namespace

Tensor gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, std::optional<ScalarType> out_dtype) {
  const ScalarType dt = out_dtype.value_or(ScalarType::BFloat16);
  FP8GEMM_CHECK(dt == ScalarType::BFloat16 || dt == ScalarType::Float,
                "fp8gemm.gemm_nt: out_dtype must be bfloat16 or float32, got ", dtype_name(dt));
  const DenseProblem p = check_dense_inputs("gemm_nt", a, sa, b, sb);
  Tensor out = empty_2d(p.m, p.n, dt, p.device);
  launch_dense("gemm_nt", p, a, sa, b, sb, out, false);
  return out;
}

void gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor out, bool accumulate) {
  const DenseProblem p = check_dense_inputs("gemm_nt_out", a, sa, b, sb);
  check_device("gemm_nt_out", "out", out, p.device);
  FP8GEMM_CHECK(out.scalar_type() == ScalarType::BFloat16 || out.scalar_type() == ScalarType::Float,
                "fp8gemm.gemm_nt_out: out must be bfloat16 or float32, got ", dtype_name(out.scalar_type()));
  check_shape("gemm_nt_out", "out", out, {p.m, p.n}, "[M, N]");
  FP8GEMM_CHECK(out.is_contiguous(), "fp8gemm.gemm_nt_out: out must be contiguous");
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(out.data_ptr()) % 16 == 0,
                "fp8gemm.gemm_nt_out: out must start on a 16-byte boundary");
  FP8GEMM_CHECK(!accumulate || out.scalar_type() == ScalarType::Float,
                "fp8gemm.gemm_nt_out: accumulate=True needs a float32 out, got ", dtype_name(out.scalar_type()));
  check_no_overlap("gemm_nt_out", out, a, "a");
  check_no_overlap("gemm_nt_out", out, sa, "sa");
  check_no_overlap("gemm_nt_out", out, b, "b");
  check_no_overlap("gemm_nt_out", out, sb, "sb");
  launch_dense("gemm_nt_out", p, a, sa, b, sb, out, accumulate);
}

}  // namespace fp8gemm
