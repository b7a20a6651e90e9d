// Dense FP8 GEMM ops (1D2D recipe): D = (a * sa) @ (b * sb)^T.
#pragma once

#include <optional>

#include <torch/csrc/stable/tensor.h>
#include <torch/headeronly/core/ScalarType.h>

namespace fp8gemm {

torch::stable::Tensor gemm_nt(torch::stable::Tensor a, torch::stable::Tensor sa, torch::stable::Tensor b,
                              torch::stable::Tensor sb, std::optional<torch::headeronly::ScalarType> out_dtype);

void gemm_nt_out(torch::stable::Tensor a, torch::stable::Tensor sa, torch::stable::Tensor b, torch::stable::Tensor sb,
                 torch::stable::Tensor out, bool accumulate);

}  // namespace fp8gemm
