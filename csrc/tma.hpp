// TMA descriptors (CUtensorMap) for 2D row-major tensors, built through the driver
// entry point that the CUDA runtime hands out (no link against libcuda).
#pragma once

#include <cstdint>

#include <cuda.h>

namespace fp8gemm {

// A 2D tensor of `rows` x `cols` elements of `dtype`, rows `row_stride_bytes` apart,
// read or written in boxes of `box_rows` x `box_cols` with `swizzle`.
CUtensorMap make_tma_2d(const void* base, CUtensorMapDataType dtype, uint64_t rows, uint64_t cols,
                        uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols, CUtensorMapSwizzle swizzle);

}  // namespace fp8gemm
