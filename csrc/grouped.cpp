// The M-grouped ops: argument checks, then one launch of the 1D2D family with the
// layout's block scheduler. Group sizes live on the device and are never read here.
#include "grouped.hpp"

#include <algorithm>

#include <torch/csrc/stable/ops.h>

#include "common.hpp"
#include "op_common.hpp"
#include "swapab.hpp"

namespace fp8gemm {

namespace {

struct GroupedProblem {
  int64_t rows;    // contiguous / offset: M; masked: Mmax
  int64_t groups;  // G
  int64_t n, k, a_row_stride, b_row_stride;
  int device;
};

// a: [M, K] (dims == 2) or [G, Mmax, K] (dims == 3); b: [G, N, K]; sa: the 1x128 scales of a;
// sb: [G, ceil(N/128), Kb], any strides.
GroupedProblem check_grouped_inputs(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b,
                                    const Tensor& sb, int a_dims) {
  GroupedProblem p{};
  p.device = check_first_device(op, a);
  check_device(op, "sa", sa, p.device);
  check_device(op, "b", b, p.device);
  check_device(op, "sb", sb, p.device);
  p.a_row_stride = check_fp8_operand(op, "a", a, a_dims);
  p.b_row_stride = check_fp8_operand(op, "b", b, 3);
  p.groups = b.size(0);
  p.n = b.size(1);
  p.k = a.size(a_dims - 1);
  p.rows = a.size(a_dims - 2);
  FP8GEMM_CHECK(b.size(2) == p.k, "fp8gemm.", op, ": b must be [G, N, K] with the K of a (", p.k, "), got ",
                shape_str(sizes_of(b)));
  if (a_dims == 3) {
    FP8GEMM_CHECK(a.size(0) == p.groups, "fp8gemm.", op, ": a must be [G, Mmax, K] with the G of b (", p.groups,
                  "), got ", shape_str(sizes_of(a)));
  }
  FP8GEMM_CHECK(p.n % 8 == 0, "fp8gemm.", op, ": N must be a multiple of 8, got N = ", p.n);
  const int64_t a_rows = a_dims == 3 ? p.groups * p.rows : p.rows;
  FP8GEMM_CHECK(a_rows <= INT32_MAX && p.groups * p.n <= INT32_MAX && p.k <= INT32_MAX, "fp8gemm.", op,
                ": rows of a, G * N and K must each be below 2^31, got ", a_rows, ", ", p.groups * p.n, ", ", p.k);
  const int64_t kb = ceil_div64(p.k, 128);
  check_dtype(op, "sa", sa, ScalarType::Float);
  if (a_dims == 3) {
    check_shape(op, "sa", sa, {p.groups, p.rows, kb}, "[G, Mmax, ceil(K/128)]");
  } else {
    check_shape(op, "sa", sa, {p.rows, kb}, "[M, ceil(K/128)]");
  }
  check_dtype(op, "sb", sb, ScalarType::Float);
  check_shape(op, "sb", sb, {p.groups, ceil_div64(p.n, 128), kb}, "[G, ceil(N/128), ceil(K/128)]");
  return p;
}

void check_no_overlaps(const char* op, const Tensor& out, const Tensor& a, const Tensor& sa, const Tensor& b,
                       const Tensor& sb, const Tensor& layout, const char* layout_name) {
  check_no_overlap(op, out, a, "a");
  check_no_overlap(op, out, sa, "sa");
  check_no_overlap(op, out, b, "b");
  check_no_overlap(op, out, sb, "sb");
  check_no_overlap(op, out, layout, layout_name);
}

void check_group_limit(const char* op, const GroupedProblem& p) {
  FP8GEMM_CHECK(p.groups <= kMaxGroups, "fp8gemm.", op, ": at most ", kMaxGroups, " groups are supported, got G = ",
                p.groups);
}

void launch_grouped(const char* op, Layout layout, const GroupedProblem& p, const Tensor& a, const Tensor& sa_in,
                    const Tensor& b, const Tensor& sb, const Tensor& layout_tensor, Tensor& out,
                    int64_t expected_m) {
  const bool masked = layout == Layout::kMasked;
  if (p.rows == 0 || p.n == 0 || p.groups == 0) return;
  if (p.k == 0) {
    torch::stable::zero_(out);
    return;
  }
  const int64_t kb = ceil_div64(p.k, 128);
  Launch1D2DSpec s{};
  s.op = op;
  s.layout = layout;
  s.device = p.device;
  switch (layout) {
    case Layout::kMasked: s.m_model = expected_m > 0 ? std::min(expected_m, p.rows) : p.rows; break;
    case Layout::kOffset: s.m_model = expected_m > 0 ? expected_m : ceil_div64(p.rows, p.groups); break;
    default: s.m_model = p.rows;
  }
  s.n = p.n;
  s.k = p.k;
  s.groups = p.groups;
  s.a = a.data_ptr();
  s.a_rows = masked ? p.groups * p.rows : p.rows;
  s.a_row_stride = p.a_row_stride;
  s.b = b.data_ptr();
  s.b_rows = p.groups * p.n;
  s.b_row_stride = p.b_row_stride;
  s.sa_m = p.rows;
  s.sa_groups = masked ? p.groups : 1;
  s.d = out.data_ptr();
  s.d_rows = s.a_rows;
  s.out = OutDtype::kBF16;
  s.args.m = static_cast<int>(p.rows);
  s.args.mmax = masked ? static_cast<int>(p.rows) : 0;
  s.args.sb = static_cast<const float*>(sb.data_ptr());
  s.args.sb_stride_g = sb.stride(0);
  s.args.sb_stride_n = sb.stride(1);
  s.args.sb_stride_k = sb.stride(2);
  s.args.group_info = layout_tensor.data_ptr();
  s.args.group_info_64 = layout_tensor.scalar_type() == ScalarType::Long ? 1 : 0;
  // The A scales: canonical as they are; row-major ([M, Kb], masked [G, Mmax, Kb] with its
  // groups evenly spaced) read in place where this build has the config's row-major twin;
  // anything else copied into the canonical layout.
  const int64_t sa_groups = masked ? p.groups : 0;
  if (!is_canonical_sa(sa_in, sa_groups, p.rows, kb)) {
    s.sa = static_cast<const float*>(sa_in.data_ptr());
    s.sa_row_stride = row_major_sa_stride(sa_in, sa_groups, p.rows, kb);
    if (s.sa_row_stride > 0 && (launch_swapab_if_chosen(s) || launch_1d2d(s))) return;
    s.sa_row_stride = 0;
  }
  const Tensor sa = canonical_sa(sa_in, sa_groups, p.rows, kb);
  s.sa = static_cast<const float*>(sa.data_ptr());
  if (launch_swapab_if_chosen(s)) return;
  launch_1d2d(s);
}

}  // namespace

// ------------------------------------------------------------------ contiguous
namespace {
GroupedProblem check_contiguous(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b,
                                const Tensor& sb, const Tensor& m_indices) {
  const GroupedProblem p = check_grouped_inputs(op, a, sa, b, sb, 2);
  check_index_tensor(op, "m_indices", m_indices, p.device, p.rows, "[M]", false);
  return p;
}
}  // namespace

Tensor m_grouped_gemm_nt_contiguous(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices) {
  const char* op = "m_grouped_gemm_nt_contiguous";
  const GroupedProblem p = check_contiguous(op, a, sa, b, sb, m_indices);
  Tensor out = empty_cuda({p.rows, p.n}, ScalarType::BFloat16, p.device);
  launch_grouped(op, Layout::kContiguous, p, a, sa, b, sb, m_indices, out, 0);
  return out;
}

void m_grouped_gemm_nt_contiguous_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices, Tensor out) {
  const char* op = "m_grouped_gemm_nt_contiguous_out";
  const GroupedProblem p = check_contiguous(op, a, sa, b, sb, m_indices);
  check_out_tensor(op, out, p.device, {p.rows, p.n}, "[M, N]", false);
  check_no_overlaps(op, out, a, sa, b, sb, m_indices, "m_indices");
  launch_grouped(op, Layout::kContiguous, p, a, sa, b, sb, m_indices, out, 0);
}

// ------------------------------------------------------------------ masked
namespace {
GroupedProblem check_masked(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb,
                            const Tensor& masked_m) {
  const GroupedProblem p = check_grouped_inputs(op, a, sa, b, sb, 3);
  check_group_limit(op, p);
  check_index_tensor(op, "masked_m", masked_m, p.device, p.groups, "[G]", false);
  return p;
}
}  // namespace

Tensor m_grouped_gemm_nt_masked(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, int64_t expected_m) {
  const char* op = "m_grouped_gemm_nt_masked";
  const GroupedProblem p = check_masked(op, a, sa, b, sb, masked_m);
  Tensor out = empty_cuda({p.groups, p.rows, p.n}, ScalarType::BFloat16, p.device);
  launch_grouped(op, Layout::kMasked, p, a, sa, b, sb, masked_m, out, expected_m);
  return out;
}

void m_grouped_gemm_nt_masked_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, Tensor out,
                                  int64_t expected_m) {
  const char* op = "m_grouped_gemm_nt_masked_out";
  const GroupedProblem p = check_masked(op, a, sa, b, sb, masked_m);
  check_out_tensor(op, out, p.device, {p.groups, p.rows, p.n}, "[G, Mmax, N]", false);
  check_no_overlaps(op, out, a, sa, b, sb, masked_m, "masked_m");
  launch_grouped(op, Layout::kMasked, p, a, sa, b, sb, masked_m, out, expected_m);
}

// ------------------------------------------------------------------ offset
namespace {
GroupedProblem check_offset(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b, const Tensor& sb,
                            const Tensor& offsets) {
  const GroupedProblem p = check_grouped_inputs(op, a, sa, b, sb, 2);
  check_group_limit(op, p);
  check_index_tensor(op, "offsets", offsets, p.device, p.groups + 1, "[G + 1]", true);
  return p;
}
}  // namespace

Tensor m_grouped_gemm_nt_offset(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, int64_t expected_m) {
  const char* op = "m_grouped_gemm_nt_offset";
  const GroupedProblem p = check_offset(op, a, sa, b, sb, offsets);
  Tensor out = empty_cuda({p.rows, p.n}, ScalarType::BFloat16, p.device);
  launch_grouped(op, Layout::kOffset, p, a, sa, b, sb, offsets, out, expected_m);
  return out;
}

void m_grouped_gemm_nt_offset_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, Tensor out,
                                  int64_t expected_m) {
  const char* op = "m_grouped_gemm_nt_offset_out";
  const GroupedProblem p = check_offset(op, a, sa, b, sb, offsets);
  check_out_tensor(op, out, p.device, {p.rows, p.n}, "[M, N]", false);
  check_no_overlaps(op, out, a, sa, b, sb, offsets, "offsets");
  launch_grouped(op, Layout::kOffset, p, a, sa, b, sb, offsets, out, expected_m);
}

}  // namespace fp8gemm
