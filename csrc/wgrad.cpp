// The weight-gradient ops (1D1D recipe): argument checks, then one launch of the 1D1D
// family. The k-grouped group sizes (ks) live on the device and are never read here.
#include "wgrad.hpp"

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>
#include <torch/csrc/stable/ops.h>

#include "common.hpp"
#include "op_common.hpp"
#include "tma.hpp"

namespace fp8gemm {

namespace {

struct WgradProblem {
  int64_t m, n, k;
  int64_t groups;        // 1 for dense
  int64_t a_row_stride;  // dense only
  int64_t b_row_stride;
  int64_t kb_rows;       // k-grouped: rows of sa / sb
  int device;
};

void check_f32_out(const char* op, const Tensor& out, int device, const std::vector<int64_t>& want,
                   const char* formula) {
  check_device(op, "out", out, device);
  check_dtype(op, "out", out, ScalarType::Float);
  check_shape(op, "out", out, want, formula);
  FP8GEMM_CHECK(out.is_contiguous(), "fp8gemm.", op, ": out must be contiguous");
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(out.data_ptr()) % 16 == 0, "fp8gemm.", op,
                ": out must start on a 16-byte boundary");
}

void check_no_overlaps(const char* op, const Tensor& out, const Tensor& a, const Tensor& sa, const Tensor& b,
                       const Tensor& sb) {
  check_no_overlap(op, out, a, "a");
  check_no_overlap(op, out, sa, "sa");
  check_no_overlap(op, out, b, "b");
  check_no_overlap(op, out, sb, "sb");
}

// ------------------------------------------------------------------ dense
WgradProblem check_dense(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb) {
  const NtOperands nt = check_nt_operands(op, a, sa, b, sb);
  // 1D1D: the weight-side scales are 1x128 as well, [N, ceil(K/128)].
  check_shape(op, "sb", sb, {nt.n, ceil_div64(nt.k, 128)}, "[N, ceil(K/128)]");
  WgradProblem p{};
  p.device = nt.device;
  p.a_row_stride = nt.a_row_stride;
  p.b_row_stride = nt.b_row_stride;
  p.m = nt.m;
  p.k = nt.k;
  p.n = nt.n;
  p.groups = 1;
  return p;
}

// ------------------------------------------------------------------ k-grouped
// A flat fp8 operand: 1-D, contiguous, 16-byte aligned.
void check_flat_operand(const char* op, const char* name, const Tensor& t) {
  check_dtype(op, name, t, ScalarType::Float8_e4m3fn);
  FP8GEMM_CHECK(t.dim() == 1, "fp8gemm.", op, ": ", name, " must be 1-D (the groups' row-major [",
                name[0] == 'a' ? "M" : "N", ", K_g] blocks concatenated), got ", t.dim(), "-D ",
                shape_str(sizes_of(t)));
  FP8GEMM_CHECK(t.numel() <= 1 || t.stride(0) == 1, "fp8gemm.", op, ": ", name,
                " must be contiguous, got stride(0) = ", t.stride(0));
  FP8GEMM_CHECK(reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0, "fp8gemm.", op, ": ", name,
                " must start on a 16-byte boundary (its data pointer is offset by ",
                reinterpret_cast<uintptr_t>(t.data_ptr()) % 16, " bytes)");
}

WgradProblem check_k_grouped(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb,
                             const Tensor& ks) {
  WgradProblem p{};
  p.device = check_first_device(op, a);
  check_device(op, "sa", sa, p.device);
  check_device(op, "b", b, p.device);
  check_device(op, "sb", sb, p.device);
  check_device(op, "ks", ks, p.device);
  check_flat_operand(op, "a", a);
  check_flat_operand(op, "b", b);
  check_dtype(op, "sa", sa, ScalarType::Float);
  FP8GEMM_CHECK(sa.dim() == 2, "fp8gemm.", op, ": sa must be 2-D [sum_g ceil(K_g/128), M], got ", sa.dim(), "-D ",
                shape_str(sizes_of(sa)));
  check_dtype(op, "sb", sb, ScalarType::Float);
  FP8GEMM_CHECK(sb.dim() == 2, "fp8gemm.", op, ": sb must be 2-D [sum_g ceil(K_g/128), N], got ", sb.dim(), "-D ",
                shape_str(sizes_of(sb)));
  p.kb_rows = sa.size(0);
  p.m = sa.size(1);
  p.n = sb.size(1);
  FP8GEMM_CHECK(sb.size(0) == p.kb_rows, "fp8gemm.", op,
                ": sb must have shape [sum_g ceil(K_g/128), N] with the rows of sa (", p.kb_rows, "), got ",
                shape_str(sizes_of(sb)));
  FP8GEMM_CHECK(p.n % 8 == 0, "fp8gemm.", op, ": N must be a multiple of 8, got N = sb.size(1) = ", p.n);
  check_dtype(op, "ks", ks, ScalarType::Int);
  FP8GEMM_CHECK(ks.dim() == 1, "fp8gemm.", op, ": ks must be 1-D [G], got ", ks.dim(), "-D ",
                shape_str(sizes_of(ks)));
  p.groups = ks.size(0);
  FP8GEMM_CHECK(p.groups <= 1 || ks.stride(0) == 1, "fp8gemm.", op, ": ks must be contiguous, got stride(0) = ",
                ks.stride(0));
  FP8GEMM_CHECK(p.groups <= kMaxGroups, "fp8gemm.", op, ": at most ", kMaxGroups, " groups are supported, got G = ",
                p.groups);
  // The operands' K extent: a holds M * sum(ks) elements, b N * sum(ks).
  if (p.m > 0) {
    FP8GEMM_CHECK(a.numel() % p.m == 0, "fp8gemm.", op, ": a must hold M * sum(ks) elements, a multiple of M = ",
                  p.m, ", got ", a.numel());
    p.k = a.numel() / p.m;
  } else {
    FP8GEMM_CHECK(a.numel() == 0, "fp8gemm.", op, ": a must be empty when M = sa.size(1) = 0, got ", a.numel(),
                  " elements");
    p.k = p.n > 0 ? b.numel() / p.n : 0;
  }
  FP8GEMM_CHECK(p.k % 16 == 0, "fp8gemm.", op, ": sum(ks) = a.numel() / M must be a multiple of 16, got ", p.k);
  FP8GEMM_CHECK(b.numel() == p.n * p.k, "fp8gemm.", op, ": b must hold N * sum(ks) = ", p.n, " * ", p.k, " = ",
                p.n * p.k, " elements (sum(ks) = a.numel() / M), got ", b.numel());
  FP8GEMM_CHECK(p.k <= INT32_MAX && p.m <= INT32_MAX && p.n <= INT32_MAX && p.groups * p.m <= INT32_MAX, "fp8gemm.",
                op, ": M, N, G * M and sum(ks) must each be below 2^31, got ", p.m, ", ", p.n, ", ", p.groups * p.m,
                ", ", p.k);
  // sum_g ceil(K_g / 128) lies between ceil(sum / 128) and sum / 16.
  FP8GEMM_CHECK(p.kb_rows >= ceil_div64(p.k, 128) && p.kb_rows <= p.k / 16, "fp8gemm.", op,
                ": sa must have sum_g ceil(K_g/128) rows, between ceil(sum(ks)/128) = ", ceil_div64(p.k, 128),
                " and sum(ks)/16 = ", p.k / 16, " for sum(ks) = ", p.k, ", got ", p.kb_rows);
  return p;
}

// K-block-major scales [rows, cols] as the kernel loads them with TMA: row-major, row stride
// a multiple of 4 floats, 16-byte aligned. Returns the tensor (copied when needed) and
// its row stride in floats.
std::pair<Tensor, int64_t> kmajor_scales(const Tensor& s, int64_t rows, int64_t cols) {
  const int64_t ld = rows <= 1 ? align4(cols) : s.stride(0);
  const bool ok = (cols <= 1 || s.stride(1) == 1) && ld % 4 == 0 && ld >= cols &&
                  reinterpret_cast<uintptr_t>(s.data_ptr()) % 16 == 0;
  if (ok) return {s, ld};
  Tensor storage = torch::stable::new_empty(s, {rows, align4(cols)});
  Tensor view = torch::stable::narrow(storage, 1, 0, cols);
  torch::stable::copy_(view, s);
  return {view, align4(cols)};
}

// ------------------------------------------------------------------ launch
void launch(const char* op, bool k_grouped, const WgradProblem& p, const Tensor& a, const Tensor& sa_in,
            const Tensor& b, const Tensor& sb_in, const Tensor* ks, Tensor& out, bool accumulate) {
  const LaunchDevice scope(p.device);
  const int sms = usable_sms(p.device);
  const int64_t k_model = k_grouped ? ceil_div64(p.k, std::max<int64_t>(p.groups, 1)) : p.k;
  const WgradSelection sel = select_wgrad(k_grouped, p.m, p.n, k_model, p.groups, accumulate, sms);
  const WgradConfig& c = sel.kernel->config;
  const DeviceInfo& info = device_info(p.device);
  FP8GEMM_CHECK(c.smem_bytes <= info.max_smem_optin, "fp8gemm.", op, ": cuda:", p.device, " offers ",
                info.max_smem_optin, " bytes of shared memory per block; the kernels need ", c.smem_bytes,
                " (an sm_90 GPU is required)");

  // Scales as [K blocks, M] / [K blocks, N] row-major views with 16-byte aligned rows.
  Tensor sa = sa_in, sb = sb_in;
  int64_t ld_sa, ld_sb, kb_rows;
  if (k_grouped) {
    kb_rows = p.kb_rows;
    std::tie(sa, ld_sa) = kmajor_scales(sa_in, kb_rows, p.m);
    std::tie(sb, ld_sb) = kmajor_scales(sb_in, kb_rows, p.n);
  } else {
    kb_rows = ceil_div64(p.k, 128);
    sa = canonical_sa(sa_in, 0, p.m, kb_rows);
    sb = canonical_sa(sb_in, 0, p.n, kb_rows);
    ld_sa = align4(p.m);
    ld_sb = align4(p.n);
  }

  CUtensorMap tmap_a, tmap_b, tmap_sa, tmap_sb, tmap_d;
  WgradArgs args{};
  const int a_box_rows = c.multicast == Multicast::kA ? c.block_m / 2 : c.block_m;
  const int b_box_rows = c.multicast == Multicast::kB ? c.block_n / 2 : c.block_n;
  // k-grouped: templates over the whole flat buffer; the kernel replaces base, K and stride.
  const int64_t a_stride = k_grouped ? p.k : p.a_row_stride;
  const int64_t b_stride = k_grouped ? p.k : p.b_row_stride;
  tmap_a = make_tma_2d(a.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_UINT8, p.m, p.k, a_stride, a_box_rows, 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  tmap_b = make_tma_2d(b.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_UINT8, p.n, p.k, b_stride, b_box_rows, 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  tmap_sa = make_tma_2d(sa.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, kb_rows, p.m, ld_sa * 4, 1, c.block_m,
                        CU_TENSOR_MAP_SWIZZLE_NONE);
  tmap_sb = make_tma_2d(sb.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, kb_rows, p.n, ld_sb * 4, 1, c.block_n,
                        CU_TENSOR_MAP_SWIZZLE_NONE);
  tmap_d = make_tma_3d(out.data_ptr(), CU_TENSOR_MAP_DATA_TYPE_FLOAT32, p.n, p.m, p.groups, p.n * 4,
                       p.m * p.n * 4, 8, 64, CU_TENSOR_MAP_SWIZZLE_32B);
  args.m = static_cast<int>(p.m);
  args.n = static_cast<int>(p.n);
  args.k = k_grouped ? 0 : static_cast<int>(p.k);
  args.num_groups = static_cast<int>(p.groups);
  args.accumulate = accumulate ? 1 : 0;
  if (k_grouped) {
    args.ks = static_cast<const int*>(ks->data_ptr());
    args.k_total = static_cast<int>(p.k);
    args.kb_total = static_cast<int>(kb_rows);
    args.a = static_cast<const uint8_t*>(a.data_ptr());
    args.b = static_cast<const uint8_t*>(b.data_ptr());
    // The tensor maps rebuilt per group go to a pool in the kernel's module memory (no
    // workspace, sm90_fp8_gemm_1d1d.cuh).
  }
  void* params[] = {&tmap_a, &tmap_b, &tmap_sa, &tmap_sb, &tmap_d, &args};
  const KernelLaunch l{static_cast<unsigned>(sel.grid), 1, static_cast<unsigned>(c.cluster()), p.device,
                       current_stream(p.device), pdl_enabled()};
  launch_kernel(*sel.kernel->image, l, params);
}

void run_dense(const char* op, const WgradProblem& p, const Tensor& a, const Tensor& sa, const Tensor& b,
               const Tensor& sb, Tensor& out, bool accumulate) {
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    if (!accumulate) torch::stable::zero_(out);
    return;
  }
  launch(op, false, p, a, sa, b, sb, nullptr, out, accumulate);
}

void run_k_grouped(const char* op, const WgradProblem& p, const Tensor& a, const Tensor& sa, const Tensor& b,
                   const Tensor& sb, const Tensor& ks, Tensor& out, bool accumulate) {
  if (p.m == 0 || p.n == 0 || p.groups == 0) return;
  if (p.k == 0) {  // every group is empty
    if (!accumulate) torch::stable::zero_(out);
    return;
  }
  launch(op, true, p, a, sa, b, sb, &ks, out, accumulate);
}

}  // namespace

Tensor wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb) {
  const char* op = "wgrad_gemm_nt";
  const WgradProblem p = check_dense(op, a, sa, b, sb);
  Tensor out = empty_cuda({p.m, p.n}, ScalarType::Float, p.device);
  run_dense(op, p, a, sa, b, sb, out, false);
  return out;
}

void wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor out) {
  const char* op = "wgrad_gemm_nt_out";
  const WgradProblem p = check_dense(op, a, sa, b, sb);
  check_f32_out(op, out, p.device, {p.m, p.n}, "[M, N]");
  check_no_overlaps(op, out, a, sa, b, sb);
  run_dense(op, p, a, sa, b, sb, out, true);
}

Tensor k_grouped_wgrad_gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks) {
  const char* op = "k_grouped_wgrad_gemm_nt";
  const WgradProblem p = check_k_grouped(op, a, sa, b, sb, ks);
  Tensor out = empty_cuda({p.groups, p.m, p.n}, ScalarType::Float, p.device);
  run_k_grouped(op, p, a, sa, b, sb, ks, out, false);
  return out;
}

void k_grouped_wgrad_gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor ks, Tensor out) {
  const char* op = "k_grouped_wgrad_gemm_nt_out";
  const WgradProblem p = check_k_grouped(op, a, sa, b, sb, ks);
  check_f32_out(op, out, p.device, {p.groups, p.m, p.n}, "[G, M, N]");
  check_no_overlaps(op, out, a, sa, b, sb);
  check_no_overlap(op, out, ks, "ks");
  run_k_grouped(op, p, a, sa, b, sb, ks, out, true);
}

}  // namespace fp8gemm
