#include "tma.hpp"

#include <mutex>
#include <stdexcept>

#include "common.hpp"
#include "cuda_driver.hpp"

namespace fp8gemm {

namespace {
// Encoding a descriptor costs about a microsecond; steady-state serving repeats the same
// few (weights, activation buffers). A small per-thread cache, so no lock: keyed by
// everything the descriptor encodes (the address is unique across devices under UVA).
struct MapKey {
  const void* base;
  uint64_t rows, cols, row_stride;
  uint32_t box_rows, box_cols;
  int dtype, swizzle;
  bool operator==(const MapKey& o) const {
    return base == o.base && rows == o.rows && cols == o.cols && row_stride == o.row_stride &&
           box_rows == o.box_rows && box_cols == o.box_cols && dtype == o.dtype && swizzle == o.swizzle;
  }
};
// NOTES: 32 entries cover a layer's worth of operands (4 per call) for several shapes.
constexpr int kMapCacheSize = 32;
struct MapCache {
  MapKey keys[kMapCacheSize] = {};
  CUtensorMap maps[kMapCacheSize];
  int next = 0;
};
thread_local MapCache t_cache;

CUtensorMap encode(const MapKey& key, CUtensorMapDataType dtype, CUtensorMapSwizzle swizzle);
}  // namespace

CUtensorMap make_tma_2d(const void* base, CUtensorMapDataType dtype, uint64_t rows, uint64_t cols,
                        uint64_t row_stride_bytes, uint32_t box_rows, uint32_t box_cols, CUtensorMapSwizzle swizzle) {
  const MapKey key{base, rows, cols, row_stride_bytes, box_rows, box_cols, static_cast<int>(dtype),
                   static_cast<int>(swizzle)};
  MapCache& cache = t_cache;
  for (int i = 0; i < kMapCacheSize; ++i)
    if (cache.keys[i] == key) return cache.maps[i];
  const CUtensorMap map = encode(key, dtype, swizzle);
  cache.keys[cache.next] = key;
  cache.maps[cache.next] = map;
  cache.next = (cache.next + 1) % kMapCacheSize;
  return map;
}

namespace {
CUtensorMap encode(const MapKey& k, CUtensorMapDataType dtype, CUtensorMapSwizzle swizzle) {
  const void* base = k.base;
  const uint64_t rows = k.rows, cols = k.cols, row_stride_bytes = k.row_stride;
  const uint32_t box_rows = k.box_rows, box_cols = k.box_cols;
  CUtensorMap map{};
  const cuuint64_t dims[2] = {cols, rows};
  const cuuint64_t strides[1] = {row_stride_bytes};
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult res = drv::api().tensor_map_encode_tiled(&map, dtype, 2, const_cast<void*>(base), dims, strides, box, elem_strides,
                                   CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS)
    throw std::runtime_error(cat("fp8gemm: cuTensorMapEncodeTiled failed (", drv::error_text(res), ") for a ", rows, " x ",
                                 cols, " tensor, row stride ", row_stride_bytes, " bytes, box ", box_rows, " x ",
                                 box_cols));
  return map;
}
}  // namespace

}  // namespace fp8gemm

namespace fp8gemm {

CUtensorMap make_tma_3d(const void* base, CUtensorMapDataType dtype, uint64_t d0, uint64_t d1, uint64_t d2,
                        uint64_t stride1_bytes, uint64_t stride2_bytes, uint32_t box0, uint32_t box1,
                        CUtensorMapSwizzle swizzle) {
  CUtensorMap map{};
  const cuuint64_t dims[3] = {d0, d1, d2};
  const cuuint64_t strides[2] = {stride1_bytes, stride2_bytes};
  const cuuint32_t box[3] = {box0, box1, 1};
  const cuuint32_t elem_strides[3] = {1, 1, 1};
  const CUresult res = drv::api().tensor_map_encode_tiled(&map, dtype, 3, const_cast<void*>(base), dims, strides, box, elem_strides,
                                   CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                                   CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (res != CUDA_SUCCESS)
    throw std::runtime_error(cat("fp8gemm: cuTensorMapEncodeTiled failed (", drv::error_text(res), ") for a ", d2, " x ", d1,
                                 " x ", d0, " tensor, strides ", stride1_bytes, " / ", stride2_bytes, " bytes, box ",
                                 box1, " x ", box0));
  return map;
}

}  // namespace fp8gemm
