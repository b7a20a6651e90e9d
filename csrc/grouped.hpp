// M-grouped FP8 GEMM ops (1D2D recipe, MoE): one B of [N, K] per group, the rows of A
// assigned to groups by a device-side layout tensor (contiguous, masked, offset).
#pragma once

#include <torch/csrc/stable/tensor.h>

namespace fp8gemm {

using torch::stable::Tensor;

Tensor m_grouped_gemm_nt_contiguous(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices);
void m_grouped_gemm_nt_contiguous_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor m_indices, Tensor out);
Tensor m_grouped_gemm_nt_masked(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, int64_t expected_m);
void m_grouped_gemm_nt_masked_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor masked_m, Tensor out,
                                  int64_t expected_m);
Tensor m_grouped_gemm_nt_offset(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, int64_t expected_m);
void m_grouped_gemm_nt_offset_out(Tensor a, Tensor sa, Tensor b, Tensor sb, Tensor offsets, Tensor out,
                                  int64_t expected_m);

}  // namespace fp8gemm
