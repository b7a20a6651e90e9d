// The dense ops: argument checks, then one launch of the 1D2D family.
#include "gemm_nt.hpp"

#include <torch/csrc/stable/ops.h>

#include "common.hpp"
#include "host_trace.hpp"
#include "op_common.hpp"
#include "swapab.hpp"

namespace fp8gemm {

namespace {

using DenseProblem = NtOperands;

// gemm_nt's weight scales: 128x128 blocks, [ceil(N/128), ceil(K/128)].
DenseProblem check_dense_inputs(const char* op, const Tensor& a, const Tensor& sa, const Tensor& b,
                                const Tensor& sb) {
  const DenseProblem p = check_nt_operands(op, a, sa, b, sb);
  check_shape(op, "sb", sb, {ceil_div64(p.n, 128), ceil_div64(p.k, 128)}, "[ceil(N/128), ceil(K/128)]");
  return p;
}

void launch_dense(const char* op, const DenseProblem& p, const Tensor& a, const Tensor& sa_in, const Tensor& b,
                  const Tensor& sb, Tensor& out, bool accumulate) {
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    if (!accumulate) torch::stable::zero_(out);
    return;
  }
  const int64_t kb = ceil_div64(p.k, 128);
  Launch1D2DSpec s{};
  s.op = op;
  s.layout = Layout::kDense;
  s.device = p.device;
  s.m_model = p.m;
  s.n = p.n;
  s.k = p.k;
  s.groups = 1;
  s.a = a.data_ptr();
  s.a_rows = p.m;
  s.a_row_stride = p.a_row_stride;
  s.b = b.data_ptr();
  s.b_rows = p.n;
  s.b_row_stride = p.b_row_stride;
  s.sa_m = p.m;
  s.sa_groups = 1;
  s.d = out.data_ptr();
  s.d_rows = p.m;
  s.out = out.scalar_type() == ScalarType::Float ? OutDtype::kF32 : OutDtype::kBF16;
  s.args.m = static_cast<int>(p.m);
  s.args.sb = static_cast<const float*>(sb.data_ptr());
  s.args.sb_stride_n = sb.stride(0);
  s.args.sb_stride_k = sb.stride(1);
  s.args.accumulate = accumulate ? 1 : 0;
  // Decode-sized M (issue 4): the swap-AB kernels; row-major scales are read in place by
  // both kernel families, except where swap-AB serves the shape only from the canonical
  // layout (select_swapab); scales in neither layout are copied into the canonical one.
  Tensor sa = sa_in;
  if (!is_canonical_sa(sa_in, 0, p.m, kb)) {
    s.sa = static_cast<const float*>(sa_in.data_ptr());
    const int64_t row_stride = row_major_sa_stride(sa_in, 0, p.m, kb);
    if (row_stride > 0) {
      s.sa_row_stride = row_stride;
      if (launch_swapab_if_chosen(s)) return;
      // Where swap-AB serves the shape from the canonical layout only, copying for it beats
      // the 1D2D twin reading in place.
      Launch1D2DSpec canonical = s;
      canonical.sa_row_stride = 0;
      if (!swapab_chosen(canonical) && launch_1d2d(s, &out)) return;
      s.sa_row_stride = 0;
    }
    sa = canonical_sa(sa_in, 0, p.m, kb);
  }
  FP8GEMM_TRACE(2);
  s.sa = static_cast<const float*>(sa.data_ptr());
  if (launch_swapab_if_chosen(s)) return;
  launch_1d2d(s, &out);
}

}  // namespace

Tensor gemm_nt(Tensor a, Tensor sa, Tensor b, Tensor sb, std::optional<ScalarType> out_dtype) {
  FP8GEMM_TRACE_START();
  const ScalarType dt = out_dtype.value_or(ScalarType::BFloat16);
  FP8GEMM_CHECK(dt == ScalarType::BFloat16 || dt == ScalarType::Float,
                "fp8gemm.gemm_nt: out_dtype must be bfloat16 or float32, got ", dtype_name(dt));
  const DenseProblem p = check_dense_inputs("gemm_nt", a, sa, b, sb);
  FP8GEMM_TRACE(0);
  Tensor out = empty_cuda({p.m, p.n}, dt, p.device);
  FP8GEMM_TRACE(1);
  launch_dense("gemm_nt", p, a, sa, b, sb, out, false);
  return out;
}

void gemm_nt_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor out, bool accumulate) {
  FP8GEMM_TRACE_START();
  const char* op = "gemm_nt_out";
  const DenseProblem p = check_dense_inputs(op, a, sa, b, sb);
  FP8GEMM_TRACE(0);
  check_out_tensor(op, out, p.device, {p.m, p.n}, "[M, N]", true);
  FP8GEMM_CHECK(!accumulate || out.scalar_type() == ScalarType::Float,
                "fp8gemm.gemm_nt_out: accumulate=True needs a float32 out, got ", dtype_name(out.scalar_type()));
  check_no_overlap(op, out, a, "a");
  check_no_overlap(op, out, sa, "sa");
  check_no_overlap(op, out, b, "b");
  check_no_overlap(op, out, sb, "sb");
  FP8GEMM_TRACE(1);
  launch_dense(op, p, a, sa, b, sb, out, accumulate);
}

}  // namespace fp8gemm
