// Config selection of the weight-gradient (1D1D) family: the 1D2D model's terms (MMA,
// shared-memory and L2 time per K block, waves, per-tile overhead) plus the 1D1D kernel's
// own cost, the per-column promotion.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <tuple>

#include "common.hpp"
#include "heuristics.hpp"
#include "wgrad.hpp"

namespace fp8gemm {

namespace {

using model::ceil_div;
using model::kL2BytesPerClk;
using model::kMmaFlopsPerClk;
using model::kSmemBytesPerClk;
using model::kTileOverhead;

// NOTES: the 1D1D model's own constants (the machine ones are in heuristics.hpp).
// kPromoteOpsPerClk: the promotion costs two FP32 operations per accumulator (scale product,
// then FFMA) on 128 FP32 lanes per SM; it overlaps the next block's MMAs in the deferred
// loop but competes with them for issue slots, so it counts half toward the block time.
// kSingleWgPenalty: one math warpgroup cannot overlap its own promotion with a second
// warpgroup's MMAs (1D2D measurement before the 2026-11-25 refit).
constexpr double kPromoteOpsPerClk = 128.0;
constexpr double kSingleWgPenalty = 1.3;


struct Estimate {
  double cycles;
  int grid;
};

Estimate estimate(const WgradConfig& c, int64_t m, int64_t n, int64_t k, int64_t groups, bool accumulate,
                  int num_sms) {
  const int64_t blocks_m = ceil_div(std::max<int64_t>(m, 1), c.block_m);
  const int64_t blocks_n = ceil_div(std::max<int64_t>(n, 1), c.block_n);
  const int cluster = c.cluster();
  const int64_t units = std::max<int64_t>(1, groups * blocks_m * blocks_n / cluster);
  const int64_t clusters = std::min<int64_t>(num_sms / cluster, units);
  const int64_t rounds = ceil_div(units, clusters);
  const int64_t num_kb = ceil_div(std::max<int64_t>(k, 1), 128);

  const double mma = 2.0 * c.block_m * c.block_n * 128 / kMmaFlopsPerClk;
  const double reads = (c.block_m / 64.0) * 4 * (64 * 32 + c.block_n * 32);
  const double writes = (c.block_m + c.block_n) * 132.0;
  const double smem = (reads + writes) / kSmemBytesPerClk;
  const double a_bytes = c.block_m * 128.0 * (c.multicast == Multicast::kA ? 0.5 : 1.0);
  const double b_bytes = c.block_n * 128.0 * (c.multicast == Multicast::kB ? 0.5 : 1.0);
  const double load = (a_bytes + b_bytes) / kL2BytesPerClk;
  const double promote = 0.5 * 2.0 * c.block_m * c.block_n / kPromoteOpsPerClk;
  double block = std::max({mma + promote * 0.25, smem, load});
  if (c.block_m == 64) block *= kSingleWgPenalty;
  const double epilogue = c.block_m * c.block_n * 4.0 * (accumulate ? 2 : 1) / kL2BytesPerClk;
  const double tile = num_kb * block + kTileOverhead + epilogue;
  return {rounds * tile, static_cast<int>(clusters * cluster)};
}

std::atomic<int> g_forced{-1};

WgradSelection select_uncached(bool k_grouped, int64_t m, int64_t n, int64_t k, int64_t groups, bool accumulate,
                               int num_sms) {
  WgradSelection best{nullptr, 0, 0};
  for (int i = 0; i < kNumKernelsWgrad; ++i) {
    const WgradConfig& c = kKernelsWgrad[i].config;
    if (c.k_grouped != k_grouped) continue;
    if (!model::multicast_fits(c.multicast, ceil_div(m, c.block_m), ceil_div(n, c.block_n), num_sms)) continue;
    const Estimate e = estimate(c, m, n, k, groups, accumulate, num_sms);
    // Prefer the lower estimate; within 2%, no cluster, then the larger tile.
    bool better = best.kernel == nullptr || e.cycles < best.est_cycles * 0.98;
    if (!better && e.cycles <= best.est_cycles * 1.02) {
      const WgradConfig& b = best.kernel->config;
      better = c.cluster() != b.cluster() ? c.cluster() < b.cluster()
                                          : c.block_m * c.block_n > b.block_m * b.block_n;
    }
    if (better) best = {&kKernelsWgrad[i], e.grid, e.cycles};
  }
  if (best.kernel == nullptr)
    throw std::runtime_error(cat("fp8gemm: no compiled ", k_grouped ? "k-grouped " : "",
                                 "weight-gradient kernel (the library was built with a grid that lacks it)"));
  return best;
}

}  // namespace

std::string describe_wgrad(const WgradConfig& c) {
  static const char* mc[] = {"none", "a", "b"};
  return cat("layout=", c.k_grouped ? "k_grouped" : "dense", " block_m=", c.block_m, " block_n=", c.block_n,
             " stages=", c.stages, " multicast=", mc[static_cast<int>(c.multicast)], " out=fp32 smem=", c.smem_bytes);
}

void force_kernel_wgrad(int index) { g_forced.store(index < kNumKernelsWgrad ? index : -1); }

WgradSelection select_wgrad(bool k_grouped, int64_t m, int64_t n, int64_t k, int64_t groups, bool accumulate,
                            int num_sms) {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) {
    const WgradConfig& c = kKernelsWgrad[forced].config;
    const bool fits = model::multicast_fits(c.multicast, ceil_div(m, c.block_m), ceil_div(n, c.block_n), num_sms);
    if (c.k_grouped == k_grouped && fits) {
      const Estimate e = estimate(c, m, n, k, groups, accumulate, num_sms);
      return {&kKernelsWgrad[forced], e.grid, e.cycles};
    }
  }
  using Key = std::tuple<bool, int64_t, int64_t, int64_t, int64_t, bool, int>;
  static std::map<Key, WgradSelection> cache;
  static std::shared_mutex mutex;
  const Key key{k_grouped, m, n, k, groups, accumulate, num_sms};
  {
    std::shared_lock<std::shared_mutex> lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  const WgradSelection s = select_uncached(k_grouped, m, n, k, groups, accumulate, num_sms);
  std::unique_lock<std::shared_mutex> lock(mutex);
  if (cache.size() > 4096) cache.clear();
  if (cache.emplace(key, s).second && print_configs()) {
    std::fprintf(stderr, "fp8gemm: wgrad %s m=%lld n=%lld k=%lld groups=%lld sms=%d -> %s grid=%d\n",
                 k_grouped ? "k_grouped" : "dense", (long long)m, (long long)n, (long long)k, (long long)groups,
                 num_sms, describe_wgrad(s.kernel->config).c_str(), s.grid);
  }
  return s;
}

}  // namespace fp8gemm
