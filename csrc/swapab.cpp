#include "swapab.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "host_trace.hpp"
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>

#include <torch/csrc/inductor/aoti_torch/c/shim.h>
#include <torch/csrc/stable/accelerator.h>

#include "common.hpp"
#include "heuristics.hpp"
#include "tma.hpp"

namespace fp8gemm {

namespace {

std::atomic<bool> g_enabled{true};
std::atomic<int> g_forced_index{-1};
std::atomic<int> g_forced_split{0};

using model::ceil_div;

// NOTES: where swap-AB serves a dense call, from the crossover sweeps against the 1D2D
// kernel (scripts/swapab_sweep.py, benchmarks/NOTES.md #30): every M <= 16; M <= 32 when
// K >= 4096 (with K <= 2048 the 1D2D kernel tied or won from 32 tokens: 12.5 vs 13.0 us at
// (32, 7168, 2048), 24.1 vs 26.5 at (64, 24576, 1536)); M <= 64 when also N <= 4096
// (at (64, 7168, 16384) the two tied within run-to-run noise, 53-56 us each, and ncu
// kernel times favoured the 1D2D kernel, 44.5 vs 45.6 us); never past 64 (two token tiles
// stream the weights twice: 16.4 vs 16.6 us at (96, 2112, 7168), worse at larger N).
constexpr int64_t kSwapAbMaxM = 64;
constexpr int64_t kSwapAbShortKMaxM = 16;
constexpr int64_t kSwapAbLongK = 4096;
constexpr int64_t kSwapAbMidMaxM = 32;
// NOTES: row-major activation scales are read in place (a box of tok rows x 4 K blocks per
// stage) for every M when K >= 4096, and for M <= 4 at any K: there they ran at 0.97-1.05x
// the canonical layout's time (1.095x at (64, 2112, 7168), still 0.90x of copying first).
// With K <= 2048 and 8-16 tokens they ran 1.14-1.44x the canonical time, slower than a
// relayout copy plus the canonical kernel (benchmarks/NOTES.md #35), so those calls copy.
constexpr int64_t kRowMajorSaAnyKMaxM = 4;
constexpr int64_t kRowMajorSaMinK = 4096;
constexpr int64_t kSwapAbWideN = 4096;
// NOTES: the masked and offset layouts take the swap-AB kernel (one CTA column per group)
// where a token tile holds a group's rows and the 1D2D kernel would run too few tiles to
// stream the weights at full bandwidth: at most this many 64-row weight tiles per SM over
// all groups (benchmarks/NOTES.md #56).
constexpr int64_t kSwapAbGroupedMaxRows = 64;
constexpr int kSwapAbGroupedMaxCtasPerSm = 2;
// NOTES: the K split aims for a share of the SMs, in percent. From 32 tokens 100% (H100:
// N = 2112 split 4 13.7 us vs split 3 14.2; N = 4096 split 2 18.8 vs split 1 20.9). With
// 8..16 tokens the share follows the device's memory bandwidth: 75% on an H100 SXM (3352
// GB/s; N = 2112: split 3 (99 CTAs) 13.0 us, split 4 (132) 13.6, split 2 (66) 13.6, split 8
// (264) 16.6; at N = 4096, 64 CTAs beat 128 by 0.5-1 us), in proportion above it, since one
// CTA streams about 38 GB/s (benchmarks/NOTES.md #55) and a faster memory needs more SMs
// streaming: an H200 (4915 GB/s) measured N = 4096 split 2 (128 CTAs) 15.2 us vs split 1
// (64) 18.6, N = 2112 split 3 (99) 11.2 vs split 4 (132) 12.2, N = 7168 split 1 (112)
// best. Never every SM: 33 clusters of 4 do not fit one CTA per SM on an H200 (a GPC whose
// SM count is not a multiple of 4 leaves SMs over; ncu: a second wave), so the share stays
// one SM below the count.
constexpr int kTargetPctSmallTok = 75;
constexpr int kTargetPctLargeTok = 100;
constexpr int kRefBandwidthGBs = 3352;  // H100 SXM (HBM3, 5120 bits at 2619 MHz)
// NOTES: from 32 tokens with K >= 12288 (96 K blocks), where one CTA per weight tile already
// fills the SMs (split 1), split 2: two CTAs per SM, both resident. At (32, 7168, 16384)
// split 2 (224 CTAs, 64 K blocks each) took 39.1-39.4 us against split 1's 41.5 on an H200
// (two sweeps); 8-16 token tiles stay at one per SM there (split 2: 38.6-38.9 vs 37.6-37.8).
constexpr int64_t kLongKBlocks = 96;

// The K split for `tiles` output tiles of config c: enough CTAs for the target share of
// the SMs, at most 8 (the portable cluster size) and at most one per K block.
int choose_split(const SwapAbConfig& c, int64_t tiles, int64_t num_kb, int num_sms, int mem_bw_gbs) {
  tiles = std::max<int64_t>(tiles, 1);
  int64_t target = int64_t(kTargetPctLargeTok) * num_sms / 100;
  if (c.tok < 32) {
    const int64_t bw = std::max(mem_bw_gbs, kRefBandwidthGBs);
    target = std::min<int64_t>(int64_t(kTargetPctSmallTok) * num_sms * bw / (100 * int64_t(kRefBandwidthGBs)),
                               std::max(num_sms - 1, 1));
  }
  int64_t split = std::max<int64_t>(1, target / tiles);
  if (c.tok >= 32 && num_kb >= kLongKBlocks && split == 1 && tiles <= num_sms) split = 2;
  return static_cast<int>(std::min<int64_t>({split, kSwapAbMaxSplit, num_kb}));
}

// A launch of `k` over N weight rows split `split` ways: dense, one CTA row per token tile of
// M (grid y); grouped (groups > 0), one CTA column per group (grid z).
SwapAbSelection make(const KernelSwapAb* k, int64_t m, int64_t n, int split, int64_t groups = 0) {
  SwapAbSelection s{};
  s.kernel = k;
  s.split = split;
  s.grid_x = static_cast<int>(ceil_div(n, k->config.rows()) * split);
  s.grid_y = groups > 0 ? 1 : static_cast<int>(ceil_div(m, k->config.tok));
  s.grid_z = groups > 0 ? static_cast<int>(groups) : 1;
  return s;
}

// The smallest compiled token tile that holds `rows` tokens; among the configs with it,
// 64-row weight tiles with two CTAs per SM, so that every cluster of the grid is resident at
// once (128-row tiles and one-CTA-per-SM rings measured no better: benchmarks/NOTES.md #30).
// nullptr where no token tile is that large.
const KernelSwapAb* pick_config(int64_t rows, OutDtype out, bool sa_row_major, bool grouped) {
  auto candidate = [&](const KernelSwapAb& c) {
    return c.config.out == out && c.config.sa_row_major == sa_row_major && c.config.grouped == grouped &&
           c.config.ctas_per_sm == 2 && c.config.rows() == 64;
  };
  int best_tok = 0;
  for (int i = 0; i < kNumKernelsSwapAb; ++i) {
    const int t = kKernelsSwapAb[i].config.tok;
    if (!candidate(kKernelsSwapAb[i]) || t < rows) continue;
    if (best_tok == 0 || t < best_tok) best_tok = t;
  }
  const KernelSwapAb* best = nullptr;
  for (int i = 0; i < kNumKernelsSwapAb && best_tok > 0; ++i) {
    const KernelSwapAb& c = kKernelsSwapAb[i];
    if (candidate(c) && c.config.tok == best_tok && best == nullptr) best = &c;
  }
  return best;
}

}  // namespace

void set_swap_ab(bool on) { g_enabled.store(on, std::memory_order_relaxed); }
bool swap_ab_enabled() { return g_enabled.load(std::memory_order_relaxed); }

void force_swapab(int index, int split) {
  g_forced_split.store(split > 0 ? std::min(split, kSwapAbMaxSplit) : 0, std::memory_order_relaxed);
  g_forced_index.store(index >= 0 && index < kNumKernelsSwapAb ? index : -1, std::memory_order_relaxed);
}

std::string describe(const SwapAbConfig& c) {
  return cat("swap_ab tok=", c.tok, " rows=", c.rows(), " stages=", c.stages, " ctas_per_sm=", c.ctas_per_sm,
             " out=", c.out == OutDtype::kBF16 ? "bf16" : "fp32", " sa=", c.sa_row_major ? "row" : "canonical",
             " smem=", c.smem_bytes, c.grouped ? " layout=grouped" : "");
}

SwapAbSelection select_swapab(int64_t m, int64_t n, int64_t k, OutDtype out, int num_sms, int mem_bw_gbs,
                              bool sa_row_major) {
  const SwapAbSelection none{nullptr, 0, 0, 0, 0};
  // The token tiles run along grid y (at most 65535 of them).
  auto legal = [&](const KernelSwapAb& c) {
    return c.config.out == out && c.config.sa_row_major == sa_row_major && !c.config.grouped &&
           ceil_div(m, c.config.tok) <= 65535;
  };
  const int64_t num_kb = ceil_div(k, 128);
  const int forced = g_forced_index.load(std::memory_order_relaxed);
  if (forced >= 0) {
    const KernelSwapAb& c = kKernelsSwapAb[forced];
    if (legal(c)) {
      const int fs = g_forced_split.load(std::memory_order_relaxed);
      const int64_t tiles = ceil_div(n, c.config.rows()) * ceil_div(m, c.config.tok);
      return make(&c, m, n, fs > 0 ? fs : choose_split(c.config, tiles, num_kb, num_sms, mem_bw_gbs));
    }
  }
  // Split K changes the summation order, so batch-invariant mode keeps to the 1D2D kernel;
  // a forced 1D2D config (testing) is served as forced.
  if (!swap_ab_enabled() || batch_invariant() || forced_kernel_1d2d() >= 0 || m > kSwapAbMaxM) return none;
  if (m > kSwapAbShortKMaxM && k < kSwapAbLongK) return none;
  if (m > kSwapAbMidMaxM && n > kSwapAbWideN) return none;
  if (sa_row_major && m > kRowMajorSaAnyKMaxM && k < kRowMajorSaMinK) return none;

  const KernelSwapAb* best = pick_config(m, out, sa_row_major, false);
  if (best == nullptr) return none;
  const int64_t tiles = ceil_div(n, best->config.rows()) * ceil_div(m, best->config.tok);
  return make(best, m, n, choose_split(best->config, tiles, num_kb, num_sms, mem_bw_gbs));
}

SwapAbSelection select_swapab_grouped(Layout layout, int64_t expected_m, int64_t max_rows, int64_t n, int64_t k,
                                      int64_t groups, int num_sms, int mem_bw_gbs, bool sa_row_major) {
  const SwapAbSelection none{nullptr, 0, 0, 0, 0};
  if (layout != Layout::kMasked && layout != Layout::kOffset) return none;
  const int64_t num_kb = ceil_div(k, 128);
  const int64_t tiles_per_group = ceil_div(n, 64);
  const int forced = g_forced_index.load(std::memory_order_relaxed);
  if (forced >= 0) {
    const KernelSwapAb& c = kKernelsSwapAb[forced];
    if (c.config.grouped && c.config.sa_row_major == sa_row_major) {
      const int fs = g_forced_split.load(std::memory_order_relaxed);
      const int64_t tiles = ceil_div(n, c.config.rows()) * groups;
      return make(&c, 0, n, fs > 0 ? fs : choose_split(c.config, tiles, num_kb, num_sms, mem_bw_gbs), groups);
    }
  }
  if (!swap_ab_enabled() || batch_invariant() || forced_kernel_1d2d() >= 0) return none;
  // NOTES: the rows a token tile must hold: 1.25 x the expected rows per group (the router's
  // imbalance; a group past the tile takes another pass over its weights), at most the rows
  // a group can have (masked: Mmax; offset: M).
  const int64_t want = std::min(max_rows, (expected_m * 5 + 3) / 4);
  if (want > kSwapAbGroupedMaxRows) return none;
  if (groups * tiles_per_group > int64_t(kSwapAbGroupedMaxCtasPerSm) * num_sms) return none;
  const KernelSwapAb* best = pick_config(std::max<int64_t>(want, 1), OutDtype::kBF16, sa_row_major, true);
  if (best == nullptr) return none;
  return make(best, 0, n, choose_split(best->config, tiles_per_group * groups, num_kb, num_sms, mem_bw_gbs), groups);
}

namespace {
// The swap-AB kernel a launch of `s` would use (kernel nullptr: the 1D2D family serves it).
SwapAbSelection choose_for(const Launch1D2DSpec& s, const DeviceInfo& info, int sms) {
  const SwapAbSelection none{nullptr, 0, 0, 0, 0};
  if (s.layout == Layout::kContiguous) return none;
  // Under an SM limit (set_num_sms) the 1D2D kernel's persistent grid honours it; this
  // kernel's grid of short-lived CTAs would not, so it stands aside unless forced.
  if (sms < info.sm_count && g_forced_index.load(std::memory_order_relaxed) < 0) return none;
  if (s.layout == Layout::kDense)
    return select_swapab(s.m_model, s.n, s.k, s.out, sms, info.mem_bw_gbs, s.sa_row_stride > 0);
  // Masked: a group holds at most Mmax rows; offset: at most M.
  return select_swapab_grouped(s.layout, s.m_model, s.args.m, s.n, s.k, s.groups, sms, info.mem_bw_gbs,
                               s.sa_row_stride > 0);
}
}  // namespace

bool swapab_chosen(const Launch1D2DSpec& s) {
  return choose_for(s, device_info(s.device), usable_sms(s.device)).kernel != nullptr;
}

bool launch_swapab_if_chosen(const Launch1D2DSpec& s) {
  if (s.layout == Layout::kContiguous) return false;
  const DeviceInfo& info = device_info(s.device);
  const int sms = usable_sms(s.device);
  const SwapAbSelection sel = choose_for(s, info, sms);
  FP8GEMM_TRACE(3);
  if (sel.kernel == nullptr) return false;
  const SwapAbConfig& c = sel.kernel->config;
  FP8GEMM_CHECK(c.smem_bytes <= info.max_smem_optin, "fp8gemm.", s.op, ": cuda:", s.device, " offers ",
                info.max_smem_optin, " bytes of shared memory per block; the kernels need ", c.smem_bytes,
                " (an sm_90 GPU is required)");
  if (print_configs()) {
    static std::mutex mutex;
    static std::set<std::tuple<int, int64_t, int64_t, int64_t, int64_t, int, int, int>> seen;
    std::lock_guard<std::mutex> lock(mutex);
    if (seen.size() < 4096 && seen.emplace(int(s.layout), s.m_model, s.n, s.k, s.groups, int(s.out), sms,
                                           int(sel.kernel - kKernelsSwapAb))
                                  .second)
      std::fprintf(stderr, "fp8gemm: gemm %s m=%lld n=%lld k=%lld groups=%lld sms=%d -> %s split=%d grid=%dx%dx%d\n",
                   layout_name(s.layout), (long long)s.m_model, (long long)s.n, (long long)s.k, (long long)s.groups,
                   sms, describe(c).c_str(), sel.split, sel.grid_x, sel.grid_y, sel.grid_z);
  }

  const LaunchDevice scope(s.device);
  FP8GEMM_TRACE(4);
  const int64_t kb = ceil_div64(s.k, 128);
  CUtensorMap tmap_w, tmap_t, tmap_sa;
  tmap_w = make_tma_2d(s.b, CU_TENSOR_MAP_DATA_TYPE_UINT8, s.b_rows, s.k, s.b_row_stride, c.rows(), 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  tmap_t = make_tma_2d(s.a, CU_TENSOR_MAP_DATA_TYPE_UINT8, s.a_rows, s.k, s.a_row_stride, c.tok, 128,
                       CU_TENSOR_MAP_SWIZZLE_128B);
  // Token scales: the canonical layout read as a [groups * Kb, M] row-major matrix (rows
  // align(M, 4) floats apart; masked: M = Mmax), one row segment of tok + 4 floats per stage;
  // or row-major [rows of A, Kb] scales in place, a box of tok rows x 4 K blocks per stage.
  // Tokens past the end read as zero.
  if (c.sa_row_major) {  // (select_swapab matched the config to the spec's layout)
    tmap_sa = make_tma_2d(s.sa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s.a_rows, kb, s.sa_row_stride * 4, c.tok, 4,
                          CU_TENSOR_MAP_SWIZZLE_NONE);
  } else {
    tmap_sa = make_tma_2d(s.sa, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, s.sa_groups * kb, s.sa_m, align4(s.sa_m) * 4, 1,
                          c.tok + 4, CU_TENSOR_MAP_SWIZZLE_NONE);
  }
  FP8GEMM_TRACE(5);
  GemmArgs args = gemm_args(s);
  const CUstream stream = current_stream(s.device);
  FP8GEMM_TRACE(6);
  void* params[] = {&tmap_w, &tmap_t, &tmap_sa, &args};
  const KernelLaunch l{static_cast<unsigned>(sel.grid_x), static_cast<unsigned>(sel.grid_y),
                       static_cast<unsigned>(sel.split), s.device, static_cast<CUstream>(stream), pdl_enabled(),
                       static_cast<unsigned>(sel.grid_z)};
  launch_kernel(*sel.kernel->image, l, params);
  FP8GEMM_TRACE(7);
  return true;
}

}  // namespace fp8gemm
