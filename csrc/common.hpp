// Host-side helpers: argument checks with readable messages, device properties,
// and the process-wide settings (SM limit, config printing).
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fp8gemm {

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

// Refuse a bad argument: `what` names the op and the argument, says what was
// expected and what was given.
#define FP8GEMM_CHECK(cond, ...)                                   \
  do {                                                             \
    if (!(cond)) throw std::invalid_argument(::fp8gemm::cat(__VA_ARGS__)); \
  } while (0)

std::string shape_str(const std::vector<int64_t>& sizes);

struct DeviceInfo {
  int sm_count = 0;
  int major = 0, minor = 0;
  int max_smem_optin = 0;
  // Peak memory bandwidth in GB/s: 2 transfers per memory clock times the bus width (3352
  // on an H100 SXM, 4915 on an H200); 0 where the driver reports no clock or width.
  int mem_bw_gbs = 0;
};

// Properties of `device`, read once per device and cached (thread-safe).
const DeviceInfo& device_info(int device);

// SMs the kernels may use on `device`: the device's count, or the limit set by set_num_sms.
int usable_sms(int device);
void set_num_sms(int n);  // 0 = no limit
// Programmatic dependent launch (opt-in, process-wide): kernels are launched so that their
// prologue may overlap the previous kernel's tail in the stream.
void set_pdl(bool on);
bool pdl_enabled();
int get_num_sms_limit();

bool print_configs();  // FP8GEMM_PRINT_CONFIGS=1

}  // namespace fp8gemm
