#include "op_common.hpp"

#include <atomic>
#include <optional>

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>

#include "common.hpp"
#include "heuristics.hpp"
#include "host_trace.hpp"
#include "tma.hpp"

namespace fp8gemm {

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

int check_first_device(const char* op, const Tensor& a) {
  FP8GEMM_CHECK(a.is_cuda(), "fp8gemm.", op, ": a must be a CUDA tensor, got a tensor on another device");
  return a.get_device();
}

namespace {
// [first byte, last byte + 1) of the elements `t` can reach.
std::pair<uintptr_t, uintptr_t> byte_span(const Tensor& t) {
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.data_ptr());
  int64_t last = 0;
  for (int64_t i = 0; i < t.dim(); ++i) last += (t.size(i) - 1) * t.stride(i);
  return {base, base + (last + 1) * t.element_size()};
}
}  // namespace

void check_no_overlap(const char* op, const Tensor& out, const Tensor& t, const char* name) {
  if (out.numel() == 0 || t.numel() == 0) return;
  const auto a = byte_span(out), b = byte_span(t);
  FP8GEMM_CHECK(a.second <= b.first || b.second <= a.first, "fp8gemm.", op, ": out must not overlap ", name,
                " in memory");
}

NtOperands check_nt_operands(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb) {
  NtOperands p{};
  p.device = check_first_device(op, a);
  check_device(op, "sa", sa, p.device);
  check_device(op, "b", b, p.device);
  check_device(op, "sb", sb, p.device);
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
  check_dtype(op, "sa", sa, ScalarType::Float);
  check_shape(op, "sa", sa, {p.m, ceil_div64(p.k, 128)}, "[M, ceil(K/128)]");
  check_dtype(op, "sb", sb, ScalarType::Float);
  return p;
}

int64_t check_fp8_operand(const char* op, const char* name, const Tensor& t, int dims) {
  check_dtype(op, name, t, ScalarType::Float8_e4m3fn);
  FP8GEMM_CHECK(t.dim() == dims, "fp8gemm.", op, ": ", name, " must be ", dims,
                dims == 2 ? "-D [rows, K]" : "-D [G, rows, K]", ", got ", t.dim(), "-D ", shape_str(sizes_of(t)));
  const int r = dims - 2;  // the rows dimension
  const int64_t rows = t.size(r), k = t.size(r + 1);
  FP8GEMM_CHECK(k % 16 == 0, "fp8gemm.", op, ": K must be a multiple of 16, got ", name, ".size(", r + 1,
                ") = K = ", k);
  FP8GEMM_CHECK(k <= 1 || t.stride(r + 1) == 1, "fp8gemm.", op, ": ", name, " must be contiguous along K (stride(",
                r + 1, ") == 1), got strides ", shape_str([&] {
                  std::vector<int64_t> s(t.dim());
                  for (int64_t i = 0; i < t.dim(); ++i) s[i] = t.stride(i);
                  return s;
                }()));
  const int64_t row_stride = rows <= 1 ? k : t.stride(r);
  FP8GEMM_CHECK(row_stride % 16 == 0 && row_stride >= k, "fp8gemm.", op, ": ", name,
                " rows must be 16-byte aligned (stride(", r, ") a multiple of 16, >= K), got stride(", r,
                ") = ", row_stride);
  if (dims == 3 && t.size(0) > 1) {
    // The groups are read as one [G * rows, K] matrix.
    FP8GEMM_CHECK(t.stride(0) == rows * row_stride, "fp8gemm.", op, ": ", name,
                  " groups must be stacked without gaps (stride(0) == rows * stride(1) = ", rows * row_stride,
                  "), got stride(0) = ", t.stride(0));
  }
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0, "fp8gemm.", op, ": ", name,
                " must start on a 16-byte boundary (its data pointer is offset by ",
                reinterpret_cast<uintptr_t>(t.data_ptr()) % 16, " bytes)");
  return row_stride;
}

void check_index_tensor(const char* op, const char* name, const Tensor& t, int device, int64_t len,
                        const char* formula, bool allow_int64) {
  check_device(op, name, t, device);
  if (allow_int64) {
    FP8GEMM_CHECK(t.scalar_type() == ScalarType::Int || t.scalar_type() == ScalarType::Long, "fp8gemm.", op, ": ",
                  name, " must be int32 or int64, got ", dtype_name(t.scalar_type()));
  } else {
    check_dtype(op, name, t, ScalarType::Int);
  }
  check_shape(op, name, t, {len}, formula);
  FP8GEMM_CHECK(len <= 1 || t.stride(0) == 1, "fp8gemm.", op, ": ", name, " must be contiguous, got stride(0) = ",
                t.stride(0));
}

void check_out_tensor(const char* op, const Tensor& out, int device, const std::vector<int64_t>& want,
                      const char* formula, bool allow_f32) {
  check_device(op, "out", out, device);
  if (allow_f32) {
    FP8GEMM_CHECK(out.scalar_type() == ScalarType::BFloat16 || out.scalar_type() == ScalarType::Float, "fp8gemm.",
                  op, ": out must be bfloat16 or float32, got ", dtype_name(out.scalar_type()));
  } else {
    check_dtype(op, "out", out, ScalarType::BFloat16);
  }
  check_shape(op, "out", out, want, formula);
  FP8GEMM_CHECK(out.is_contiguous(), "fp8gemm.", op, ": out must be contiguous");
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(out.data_ptr()) % 16 == 0, "fp8gemm.", op,
                ": out must start on a 16-byte boundary");
}

Tensor empty_cuda(const std::vector<int64_t>& sizes, ScalarType dtype, int device) {
  std::vector<int64_t> strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(sizes[i], 1);
  }
  const int32_t dt = dtype == ScalarType::Float ? aoti_torch_dtype_float32() : aoti_torch_dtype_bfloat16();
  AtenTensorHandle handle = nullptr;
  STABLE_TORCH_ERROR_CODE_CHECK(aoti_torch_empty_strided(static_cast<int64_t>(sizes.size()), sizes.data(),
                                                         strides.data(), dt, aoti_torch_device_type_cuda(), device,
                                                         &handle));
  return Tensor(handle);
}

bool is_canonical_sa(const Tensor& sa, int64_t groups, int64_t m, int64_t kb) {
  const int r = groups > 0 ? 1 : 0;  // the M dimension
  const bool group_ok = groups <= 1 || sa.stride(0) == align4(m) * kb;
  return group_ok && (m <= 1 || sa.stride(r) == 1) && (kb <= 1 || sa.stride(r + 1) == align4(m)) &&
         reinterpret_cast<uintptr_t>(sa.data_ptr()) % 16 == 0;
}

int64_t row_major_sa_stride(const Tensor& sa, int64_t groups, int64_t m, int64_t kb) {
  const int r = groups > 0 ? 1 : 0;  // the M dimension
  if (kb < 4 || sa.stride(r + 1) != 1 || reinterpret_cast<uintptr_t>(sa.data_ptr()) % 16 != 0) return 0;
  // [G, Mmax, Kb]: every row of every group one stride apart, so that the kernels can read
  // them as one [G * Mmax, Kb] matrix. A single row's stride is never used.
  const bool many_groups = groups > 1;
  int64_t stride = m > 1 ? sa.stride(r) : (many_groups ? sa.stride(0) : align4(kb));
  if (many_groups && m > 1 && sa.stride(0) != m * stride) return 0;
  return stride >= kb && stride % 4 == 0 ? stride : 0;
}

namespace {
std::atomic<int64_t> g_sa_relayouts{0};
}
int64_t num_sa_relayouts() { return g_sa_relayouts.load(std::memory_order_relaxed); }

Tensor canonical_sa(const Tensor& sa, int64_t groups, int64_t m, int64_t kb) {
  if (is_canonical_sa(sa, groups, m, kb)) return sa;
  g_sa_relayouts.fetch_add(1, std::memory_order_relaxed);
  if (groups == 0) {
    Tensor storage = torch::stable::new_empty(sa, {kb, align4(m)});
    Tensor view = torch::stable::transpose(torch::stable::narrow(storage, 1, 0, m), 0, 1);
    torch::stable::copy_(view, sa);
    return view;
  }
  Tensor storage = torch::stable::new_empty(sa, {groups, kb, align4(m)});
  Tensor view = torch::stable::transpose(torch::stable::narrow(storage, 2, 0, m), 1, 2);
  torch::stable::copy_(view, sa);
  return view;
}

LaunchDevice::LaunchDevice(int device) {
  if (torch::stable::accelerator::getCurrentDeviceIndex() != device) guard_.emplace(device);
  make_device_current(device);
}

CUstream current_stream(int device) {
  void* stream = nullptr;
  STABLE_TORCH_ERROR_CODE_CHECK(aoti_torch_get_current_cuda_stream(device, &stream));
  return static_cast<CUstream>(stream);
}

GemmArgs gemm_args(const Launch1D2DSpec& s) {
  GemmArgs args = s.args;
  args.n = static_cast<int>(s.n);
  args.k = static_cast<int>(s.k);
  args.sb_rows = static_cast<int>(ceil_div64(s.n, 128));
  args.num_groups = static_cast<int>(s.groups);
  args.d = s.d;
  args.ldd = s.n;
  return args;
}

bool launch_1d2d(Launch1D2DSpec& s, const Tensor* like) {
  const bool sa_row_major = s.sa_row_stride > 0;
  const int64_t kb = ceil_div64(s.k, 128);
  const int sms = usable_sms(s.device);
  const Selection sel = select_1d2d(s.layout, s.m_model, s.n, s.k, s.groups, s.out, sms, sa_row_major);
  FP8GEMM_TRACE(3);
  if (sel.kernel == nullptr) return false;  // no row-major twin in this build: the caller copies
  const LaunchDevice scope(s.device);
  FP8GEMM_TRACE(4);
  const KernelConfig& c = sel.kernel->config;
  const DeviceInfo& info = device_info(s.device);
  FP8GEMM_CHECK(c.smem_bytes <= info.max_smem_optin, "fp8gemm.", s.op, ": cuda:", s.device, " offers ",
                info.max_smem_optin, " bytes of shared memory per block; the kernels need ", c.smem_bytes,
                " (an sm_90 GPU is required)");

  CUtensorMap tmap_a, tmap_b, tmap_sa, tmap_d;
  const int a_box_rows = c.multicast == Multicast::kA ? c.block_m / 2 : c.block_m;
  const int b_box_rows = c.multicast == Multicast::kB ? c.block_n / 2 : c.block_n;
  tmap_a = make_tma_2d(s.a, CU_TENSOR_MAP_DATA_TYPE_UINT8, s.a_rows, s.k, s.a_row_stride, a_box_rows, 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  tmap_b = make_tma_2d(s.b, CU_TENSOR_MAP_DATA_TYPE_UINT8, s.b_rows, s.k, s.b_row_stride, b_box_rows, 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  // A scales: a [groups * Kb, sa_m] row-major view of the canonical layout (rows align(sa_m, 4)
  // apart), one row of block_m per stage; columns past sa_m read as zero. Row-major scales
  // in place: [rows of A, Kb], a box of block_m rows x sa_group K blocks per group of K
  // blocks (rows and columns past the ends read as zero).
  GemmArgs args = gemm_args(s);
  if (sa_row_major) {
    // Rows of at most sa_group floats (Kb <= sa_group: one group per tile), rows * stride
    // a multiple of 32 floats and every tile's first row on a 128-byte line (dense and
    // contiguous tiles start on multiples of 64 rows; masked ones on g * Mmax + ...): the
    // tile's whole rows as BM * stride / 32 lines of 128 bytes, a few TMA requests, where
    // a box of sa_group columns takes one per row (hot: every CTA of a wave reads the same
    // rows at small M).
    const int64_t stride = s.sa_row_stride;
    const bool whole_rows = stride <= c.sa_group && (s.a_rows * stride) % 32 == 0 &&
                            c.layout != Layout::kOffset && (c.layout != Layout::kMasked || (s.args.mmax * stride) % 32 == 0);
    // Rows of 32 floats in shared memory (boxes of 32 columns; whole rows of 32) go 128-byte
    // swizzled, which the kernel undoes: its scale reads are then free of bank conflicts.
    const int pitch = whole_rows ? static_cast<int>(stride) : c.sa_group;
    const CUtensorMapSwizzle swizzle = pitch == 32 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE;
    if (whole_rows) {
      tmap_sa = make_tma_2d(s.sa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s.a_rows * stride / 32, 32, 128,
                            c.block_m * stride / 32, 32, swizzle);
      args.sa_pitch = pitch;
    } else {
      tmap_sa = make_tma_2d(s.sa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s.a_rows, kb, stride * 4, c.block_m,
                            c.sa_group, swizzle);
    }
  } else {
    tmap_sa = make_tma_2d(s.sa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s.sa_groups * kb, s.sa_m, align4(s.sa_m) * 4, 1,
                          c.block_m + sa_pad(c.layout), CU_TENSOR_MAP_SWIZZLE_NONE);
  }
  // Output: boxes of 64 rows x one staged chunk (store_chunk_bytes), swizzled as wide.
  const int out_bytes = s.out == OutDtype::kBF16 ? 2 : 4;
  const int chunk = store_chunk_bytes(c.block_n, out_bytes);
  const CUtensorMapSwizzle d_swizzle =
      chunk == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : (chunk == 64 ? CU_TENSOR_MAP_SWIZZLE_64B : CU_TENSOR_MAP_SWIZZLE_32B);
  tmap_d = make_tma_2d(s.d, s.out == OutDtype::kBF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT32,
                       s.d_rows, s.n, s.n * out_bytes, 64, chunk / out_bytes, d_swizzle);
  // Stream-K: the fix-up workspace (a flag per CTA and math warpgroup, zeroed in stream
  // order before the launch, then a partial-sum slot per CTA), from torch's allocator on the
  // current stream, so graph capture and stream reuse stay torch's business.
  std::optional<Tensor> workspace;
  if (c.stream_k) {
    FP8GEMM_CHECK(like != nullptr, "fp8gemm.", s.op, ": internal error: no tensor to allocate the workspace like");
    const int64_t tiles = ceil_div64(s.args.m, c.block_m) * ceil_div64(s.n, c.block_n);
    const int64_t flags = ceil_div64(static_cast<int64_t>(sel.grid) * gemm_1d2d_math_warpgroups(c.block_m), 64) * 64;
    workspace = torch::stable::new_empty(*like, {flags + static_cast<int64_t>(sel.grid) * c.block_m * c.block_n},
                                         ScalarType::Float);
    Tensor flag_view = torch::stable::narrow(*workspace, 0, 0, flags);
    torch::stable::zero_(flag_view);
    args.sk_dp_tiles = static_cast<int>(tiles / sel.grid * sel.grid);
    args.sk_flags = static_cast<unsigned*>(workspace->data_ptr());
    args.sk_partials = static_cast<float*>(workspace->data_ptr()) + flags;
  }
  FP8GEMM_TRACE(5);
  const CUstream stream = current_stream(s.device);
  FP8GEMM_TRACE(6);
  void* params[] = {&tmap_a, &tmap_b, &tmap_sa, &tmap_d, &args};
  const KernelLaunch l{static_cast<unsigned>(sel.grid), 1, static_cast<unsigned>(c.cluster()), s.device, stream,
                       pdl_enabled()};
  launch_kernel(*sel.kernel->image, l, params);
  FP8GEMM_TRACE(7);
  return true;
}

}  // namespace fp8gemm
