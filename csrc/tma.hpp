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

namespace fp8gemm {

// A 3D tensor [d2][d1][d0] (d0 innermost, contiguous), read or written in boxes of
// box0 x box1 x 1 with `swizzle`; strides in bytes. Not cached (one per weight-gradient call).
CUtensorMap make_tma_3d(const void* base, CUtensorMapDataType dtype, uint64_t d0, uint64_t d1, uint64_t d2,
                        uint64_t stride1_bytes, uint64_t stride2_bytes, uint32_t box0, uint32_t box1,
                        CUtensorMapSwizzle swizzle);

}  // namespace fp8gemm
