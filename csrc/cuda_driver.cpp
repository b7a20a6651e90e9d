#include "cuda_driver.hpp"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "common.hpp"

// Set by CMake (FP8GEMM_CUBIN): which toolchain assembled the embedded cubins, and the
// oldest driver (as a CUDA version) that loads them.
#ifndef FP8GEMM_CUBIN_TOOLCHAIN
#define FP8GEMM_CUBIN_TOOLCHAIN "unknown"
#endif
#ifndef FP8GEMM_MIN_DRIVER
#define FP8GEMM_MIN_DRIVER 12000
#endif

namespace fp8gemm {

const char* cubin_toolchain() { return FP8GEMM_CUBIN_TOOLCHAIN; }
int min_driver_cuda_version() { return FP8GEMM_MIN_DRIVER; }

namespace drv {
namespace {

std::string version_text(int v) { return cat(v / 1000, ".", v % 1000 / 10); }

// The ABI version every entry point is requested at: the one each had in CUDA 12.0, the
// oldest driver family this library can run on (cuLaunchKernelEx, cuTensorMapEncodeTiled).
constexpr int kAbiVersion = 12000;

using GetProcAddressFn = CUresult (*)(const char*, void**, int, cuuint64_t, CUdriverProcAddressQueryResult*);

struct Loaded {
  Api api{};
  std::string error;  // why there is no usable driver; empty when api is complete
  int version = 0;
};

const Loaded& loaded() {
  static const Loaded l = [] {
    Loaded r;
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = dlerror();
      r.error = cat("fp8gemm: the NVIDIA driver's libcuda.so.1 could not be loaded (", why ? why : "not found",
                    "); fp8gemm needs an NVIDIA driver for CUDA >= ", version_text(FP8GEMM_MIN_DRIVER));
      return r;
    }
    auto get_version = reinterpret_cast<decltype(&::cuDriverGetVersion)>(dlsym(lib, "cuDriverGetVersion"));
    if (get_version == nullptr || get_version(&r.version) != CUDA_SUCCESS) r.version = 0;
    // cuGetProcAddress_v2 (the one with a query result) appeared with CUDA 12.0 drivers.
    auto get_proc = reinterpret_cast<GetProcAddressFn>(dlsym(lib, "cuGetProcAddress_v2"));
    if (get_proc == nullptr) {
      r.error = cat("fp8gemm: the NVIDIA driver supports CUDA ", version_text(r.version),
                    "; fp8gemm needs a driver for CUDA >= 12.0 (no cuGetProcAddress_v2)");
      return r;
    }
    auto resolve = [&](const char* name, auto& fn) {
      void* p = nullptr;
      CUdriverProcAddressQueryResult status{};
      if (get_proc(name, &p, kAbiVersion, CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS || p == nullptr ||
          status != CU_GET_PROC_ADDRESS_SUCCESS) {
        if (r.error.empty())
          r.error = cat("fp8gemm: the NVIDIA driver (CUDA ", version_text(r.version), ") has no ", name,
                        "; fp8gemm needs a driver for CUDA >= 12.0");
        return;
      }
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
    };
    Api& a = r.api;
    resolve("cuInit", a.init);
    resolve("cuDriverGetVersion", a.driver_get_version);
    resolve("cuGetErrorName", a.get_error_name);
    resolve("cuGetErrorString", a.get_error_string);
    resolve("cuDeviceGet", a.device_get);
    resolve("cuDeviceGetAttribute", a.device_get_attribute);
    resolve("cuDevicePrimaryCtxRetain", a.primary_ctx_retain);
    resolve("cuCtxGetCurrent", a.ctx_get_current);
    resolve("cuCtxSetCurrent", a.ctx_set_current);
    resolve("cuModuleLoadData", a.module_load_data);
    resolve("cuModuleGetFunction", a.module_get_function);
    resolve("cuFuncSetAttribute", a.func_set_attribute);
    resolve("cuLaunchKernelEx", a.launch_kernel_ex);
    resolve("cuTensorMapEncodeTiled", a.tensor_map_encode_tiled);
    resolve("cuThreadExchangeStreamCaptureMode", a.thread_exchange_stream_capture_mode);
    if (!r.error.empty()) return r;
    const CUresult init = a.init(0);
    if (init != CUDA_SUCCESS) {
      const char* name = nullptr;
      a.get_error_name(init, &name);
      r.error = cat("fp8gemm: cuInit failed (", name ? name : "unknown error", "): no usable CUDA driver or GPU");
    }
    return r;
  }();
  return l;
}

}  // namespace

const Api& api() {
  const Loaded& l = loaded();
  if (!l.error.empty()) throw std::runtime_error(l.error);
  return l.api;
}

namespace {
std::atomic<int> g_pretend_version{0};
}
void pretend_driver_version(int v) { g_pretend_version.store(v, std::memory_order_relaxed); }

int driver_version() {
  const int pretend = g_pretend_version.load(std::memory_order_relaxed);
  return pretend > 0 ? pretend : loaded().version;
}

const char* error_text(CUresult r) {
  thread_local std::string text;
  const Loaded& l = loaded();
  const char* name = nullptr;
  const char* desc = nullptr;
  if (l.api.get_error_name != nullptr) l.api.get_error_name(r, &name);
  if (l.api.get_error_string != nullptr) l.api.get_error_string(r, &desc);
  text = cat(name ? name : "CUDA error", " (", int(r), ")", desc ? ": " : "", desc ? desc : "");
  return text.c_str();
}

void check(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) throw std::runtime_error(cat("fp8gemm: ", what, " failed: ", error_text(r)));
}

}  // namespace drv

namespace {
struct DeviceContext {
  std::once_flag once;
  CUdevice dev = 0;
  CUcontext primary = nullptr;
};
DeviceContext g_ctx[kMaxDevices];
std::mutex g_load_mutex;

// The driver could not load a cubin (`r`; CUDA_SUCCESS when refused before trying): say
// what this build needs and what is there.
[[noreturn]] void load_failed(const KernelImage& k, int device, CUresult r) {
  const int have = drv::driver_version();
  const int need = min_driver_cuda_version();
  std::string why = r == CUDA_SUCCESS ? std::string("the driver is too old") : std::string(drv::error_text(r));
  std::string hint;
  if (have < need) {
    hint = cat(" This build's cubins (", cubin_toolchain(), ") need a driver for CUDA >= ", need / 1000, ".",
               need % 1000 / 10, "; this driver supports CUDA ", have / 1000, ".", have % 1000 / 10,
               ". Upgrade the driver, or install the fp8gemm wheel built with the cu12 toolchain (README: Which wheel).");
  } else if (r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_INVALID_IMAGE) {
    hint = " The kernels are built for sm_90a only (H100, H200, H20, H800).";
  }
  throw std::runtime_error(cat("fp8gemm: the CUDA driver could not load kernel ", k.entry, " on cuda:", device, ": ",
                               why, ".", hint));
}

CUfunction load(const KernelImage& k, int device) {
  std::lock_guard<std::mutex> lock(g_load_mutex);
  CUfunction f = k.loaded[device].load(std::memory_order_acquire);
  if (f != nullptr) return f;
  const drv::Api& a = drv::api();
  const int have = drv::driver_version();
  if (have < min_driver_cuda_version()) load_failed(k, device, CUDA_SUCCESS);
  // make_device_current() made the primary context current: the module lives there.
  // The first launch of a kernel may come inside a CUDA graph capture; loading a module is
  // not a stream operation, so this thread loads it in relaxed capture mode (allowed during
  // any capture), then restores its mode.
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
  drv::check(a.thread_exchange_stream_capture_mode(&mode), "cuThreadExchangeStreamCaptureMode");
  CUmodule module = nullptr;
  const CUresult r = a.module_load_data(&module, k.cubin);
  drv::check(a.thread_exchange_stream_capture_mode(&mode), "cuThreadExchangeStreamCaptureMode");
  if (r != CUDA_SUCCESS) load_failed(k, device, r);
  drv::check(a.module_get_function(&f, module, k.entry), cat("cuModuleGetFunction(", k.entry, ")").c_str());
  drv::check(a.func_set_attribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, k.smem_bytes),
             "cuFuncSetAttribute(max dynamic shared memory)");
  k.loaded[device].store(f, std::memory_order_release);
  return f;
}
}  // namespace

CUdevice make_device_current(int device) {
  if (device < 0 || device >= kMaxDevices)
    throw std::runtime_error(cat("fp8gemm: device index ", device, " out of range"));
  DeviceContext& c = g_ctx[device];
  std::call_once(c.once, [&] {
    const drv::Api& a = drv::api();
    drv::check(a.device_get(&c.dev, device), "cuDeviceGet");
    drv::check(a.primary_ctx_retain(&c.primary, c.dev), "cuDevicePrimaryCtxRetain");
  });
  const drv::Api& a = drv::api();
  CUcontext current = nullptr;
  drv::check(a.ctx_get_current(&current), "cuCtxGetCurrent");
  if (current != c.primary) drv::check(a.ctx_set_current(c.primary), "cuCtxSetCurrent");
  return c.dev;
}

void launch_kernel(const KernelImage& k, const KernelLaunch& l, void** params) {
  make_device_current(l.device);
  CUfunction f = k.loaded[l.device].load(std::memory_order_acquire);
  if (f == nullptr) f = load(k, l.device);

  CUlaunchConfig cfg{};
  cfg.gridDimX = l.grid_x;
  cfg.gridDimY = l.grid_y;
  cfg.gridDimZ = l.grid_z;
  cfg.blockDimX = static_cast<unsigned>(k.threads);
  cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.sharedMemBytes = static_cast<unsigned>(k.smem_bytes);
  cfg.hStream = l.stream;
  CUlaunchAttribute attrs[2];
  cfg.attrs = attrs;
  cfg.numAttrs = 0;
  if (l.cluster > 1) {
    attrs[cfg.numAttrs].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attrs[cfg.numAttrs].value.clusterDim.x = l.cluster;
    attrs[cfg.numAttrs].value.clusterDim.y = 1;
    attrs[cfg.numAttrs].value.clusterDim.z = 1;
    ++cfg.numAttrs;
  }
  if (l.pdl) {
    attrs[cfg.numAttrs].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attrs[cfg.numAttrs].value.programmaticStreamSerializationAllowed = 1;
    ++cfg.numAttrs;
  }
  const CUresult r = drv::api().launch_kernel_ex(&cfg, f, params, nullptr);
  if (r != CUDA_SUCCESS) drv::check(r, cat("cuLaunchKernelEx(", k.entry, ")").c_str());  // the message only on failure
}

}  // namespace fp8gemm
