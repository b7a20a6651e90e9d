#include "common.hpp"

#include "cuda_driver.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>

namespace fp8gemm {

std::string shape_str(const std::vector<int64_t>& sizes) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  os << "]";
  return os.str();
}

namespace {
std::array<DeviceInfo, kMaxDevices> g_info;
std::array<std::once_flag, kMaxDevices> g_info_once;
std::atomic<int> g_num_sms_limit{0};
std::atomic<bool> g_pdl{false};
}  // namespace

void set_pdl(bool on) { g_pdl.store(on, std::memory_order_relaxed); }
bool pdl_enabled() { return g_pdl.load(std::memory_order_relaxed); }

const DeviceInfo& device_info(int device) {
  if (device < 0 || device >= kMaxDevices)
    throw std::runtime_error(cat("fp8gemm: device index ", device, " out of range"));
  std::call_once(g_info_once[device], [device] {
    DeviceInfo& info = g_info[device];
    const drv::Api& a = drv::api();
    CUdevice dev = 0;
    drv::check(a.device_get(&dev, device), "cuDeviceGet");
    auto get = [&](CUdevice_attribute attr, int* v, const char* what) {
      drv::check(a.device_get_attribute(v, attr, dev), what);
    };
    get(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.sm_count, "cuDeviceGetAttribute(SM count)");
    get(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.major, "cuDeviceGetAttribute(compute capability)");
    get(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.minor, "cuDeviceGetAttribute(compute capability)");
    get(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &info.max_smem_optin,
        "cuDeviceGetAttribute(shared memory opt-in)");
    int clock_khz = 0, bus_bits = 0;
    get(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, &clock_khz, "cuDeviceGetAttribute(memory clock)");
    get(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, &bus_bits, "cuDeviceGetAttribute(memory bus width)");
    info.mem_bw_gbs = static_cast<int>(2LL * clock_khz * (bus_bits / 8) / 1000000);
  });
  return g_info[device];
}

int usable_sms(int device) {
  const int all = device_info(device).sm_count;
  const int limit = g_num_sms_limit.load(std::memory_order_relaxed);
  return limit > 0 && limit < all ? limit : all;
}

void set_num_sms(int n) { g_num_sms_limit.store(n > 0 ? n : 0, std::memory_order_relaxed); }
int get_num_sms_limit() { return g_num_sms_limit.load(std::memory_order_relaxed); }

bool print_configs() {
  static const bool on = [] {
    const char* v = std::getenv("FP8GEMM_PRINT_CONFIGS");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return on;
}

}  // namespace fp8gemm
