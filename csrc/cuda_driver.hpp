// The CUDA driver API, reached at run time: libcuda.so.1 is opened on first use and its
// entry points resolved with cuGetProcAddress (the CUDA 12.0 ABI of each). The library
// links no CUDA runtime, so it loads into any torch build (cu12x or cu13x) and, with
// cubins from the cu12 toolchain, runs on CUDA 12 drivers.
//
// Kernels are cubins embedded in the library (KernelImage), loaded per device into the
// primary context (the one the CUDA runtime, hence torch, uses) on first launch.
//
// Porting a kernel family onto this launcher (the pattern csrc/gen_kernels.py follows
// for the 1D2D family):
//   1. Give each instantiation an `extern "C" __global__` entry point with a unique name
//      (a thin wrapper that forwards its __grid_constant__ parameters by reference to a
//      __device__ __forceinline__ body template) and its __launch_bounds__.
//   2. Build each into a cubin with the chosen toolchain (CMake: fp8gemm_add_cubin) and
//      embed it (the generated registry's .incbin lines).
//   3. Describe it with a KernelImage {cubin, entry name, threads, dynamic smem} in the
//      family's generated registry (gen_kernels.py: embed_cubins + a table).
//   4. In the op: make_device_current(device) before encoding tensor maps, then
//      launch_kernel(image, {grid_x, grid_y, cluster, device, stream, pdl}, params), params
//      being one pointer per kernel parameter, in order (tensor maps and structs by address).
// The 1D2D (op_common.cpp), swap-AB (swapab.cpp) and 1D1D (wgrad.cpp) families follow it.
#pragma once

#include <atomic>
#include <cuda.h>

namespace fp8gemm {

constexpr int kMaxDevices = 64;

namespace drv {

// The driver entry points the library uses (the CUDA 12.0 ABI of each).
struct Api {
  decltype(&::cuInit) init;
  decltype(&::cuDriverGetVersion) driver_get_version;
  decltype(&::cuGetErrorName) get_error_name;
  decltype(&::cuGetErrorString) get_error_string;
  decltype(&::cuDeviceGet) device_get;
  decltype(&::cuDeviceGetAttribute) device_get_attribute;
  decltype(&::cuDevicePrimaryCtxRetain) primary_ctx_retain;
  decltype(&::cuCtxGetCurrent) ctx_get_current;
  decltype(&::cuCtxSetCurrent) ctx_set_current;
  decltype(&::cuModuleLoadData) module_load_data;
  decltype(&::cuModuleGetFunction) module_get_function;
  decltype(&::cuFuncSetAttribute) func_set_attribute;
  CUresult (*launch_kernel_ex)(const CUlaunchConfig*, CUfunction, void**, void**);
  decltype(&::cuTensorMapEncodeTiled) tensor_map_encode_tiled;
  decltype(&::cuThreadExchangeStreamCaptureMode) thread_exchange_stream_capture_mode;
};

// The driver's entry points; throws std::runtime_error saying what is missing when there
// is no usable driver (libcuda.so.1 absent, older than CUDA 12.0, cuInit failing).
const Api& api();

// The driver's CUDA version (e.g. 12080 for 12.8), or 0 when there is no driver. Never throws.
int driver_version();

// Testing hook: driver_version() reports `v` (0: the real one), so the refusal of a
// too-old driver can be exercised on a new one. Kernels already loaded stay loaded.
void pretend_driver_version(int v);

// "CUDA_ERROR_X: its description".
const char* error_text(CUresult r);

// Throws std::runtime_error("fp8gemm: <what> failed: <error>") unless r == CUDA_SUCCESS.
void check(CUresult r, const char* what);

}  // namespace drv

// The CUDA driver's device handle of ordinal `device`, with its primary context made
// current on this thread (it usually is already: torch's runtime calls make it so). Call it
// before any driver call that needs a context: cuTensorMapEncodeTiled does (a fresh thread
// has none), launch_kernel calls it itself.
CUdevice make_device_current(int device);

// One compiled kernel embedded in the library.
struct KernelImage {
  const unsigned char* cubin;  // the cubin's bytes, from the generated registry
  const char* entry;           // its extern "C" entry point
  int threads;                 // block size
  int smem_bytes;              // dynamic shared memory per block
  // Per device: the loaded function (null until the first launch there).
  mutable std::atomic<CUfunction> loaded[kMaxDevices] = {};
};

struct KernelLaunch {
  unsigned grid_x, grid_y;  // blocks
  unsigned cluster;         // CTAs per cluster along x (1: no cluster; at most 8, the portable size)
  int device;
  CUstream stream;  // torch's current stream (a cudaStream_t is a CUstream)
  bool pdl;         // programmatic stream serialization (see set_pdl)
  unsigned grid_z = 1;
};

// Loads `k` on the device if needed and launches it. `params`: one pointer per kernel
// parameter. Throws std::runtime_error with the driver's error.
void launch_kernel(const KernelImage& k, const KernelLaunch& l, void** params);

// The cubin toolchain this build used and the driver version its cubins need (C API).
const char* cubin_toolchain();
int min_driver_cuda_version();

}  // namespace fp8gemm
