#include "tma.hpp"

#include <mutex>
#include <stdexcept>

#include <cuda_runtime.h>

#include "common.hpp"

namespace fp8gemm {

namespace {
using EncodeTiledFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                   const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                   CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiledFn encode_fn() {
  static EncodeTiledFn fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* ptr = nullptr;
    cudaDriverEntryPointQueryResult status{};
    // 12000: the ABI of cuTensorMapEncodeTiled as introduced in CUDA 12.0.
    FP8GEMM_CUDA_CHECK(
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &status));
    if (status != cudaDriverEntryPointSuccess || ptr == nullptr)
      throw std::runtime_error("fp8gemm: the CUDA driver has no cuTensorMapEncodeTiled (needs a CUDA 12+ driver)");
    fn = reinterpret_cast<EncodeTiledFn>(ptr);
  });
  return fn;
}
}  // namespace

CUtensorMap make_tma_2d(const void* base, CUtensorMapDataType dtype, int elem_bytes, uint64_t rows, uint64_t cols,
                        uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols, CUtensorMapSwizzle swizzle) {
  (void)elem_bytes;
  CUtensorMap map{};
  const cuuint64_t dims[2] = {cols, rows};
  const cuuint64_t strides[1] = {row_stride_bytes};
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult res = encode_fn()(&map, dtype, 2, const_cast<void*>(base), dims, strides, box, elem_strides,
                                   CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS)
    throw std::runtime_error(cat("fp8gemm: cuTensorMapEncodeTiled failed (error ", int(res), ") for a ", rows, " x ",
                                 cols, " tensor, row stride ", row_stride_bytes, " bytes, box ", box_rows, " x ",
                                 box_cols));
  return map;
}

}  // namespace fp8gemm
