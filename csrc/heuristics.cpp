#include "heuristics.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "common.hpp"

namespace fp8gemm {

namespace {

using model::ceil_div;
using model::kL2BytesPerClk;
using model::kMmaFlopsPerClk;
using model::kSmemBytesPerClk;
using model::kTileOverhead;

// NOTES: the 1D2D model's own constants (the machine ones are in heuristics.hpp),
// calibrated against scripts/gpu_sweep.py on an H100 (every compiled config timed on the
// benchmark shapes).
// - kSingleWgPenalty: one math warpgroup (block_m 64) leaves the tensor core idle while
//   it waits on its own barriers; two interleave. ~10% of a 64xN block (refit on the
//   2026-11-25 sweep after the main-loop diet, benchmarks/NOTES.md #27; was 30%).
// - kChunkedIssue: 128-row tiles wider than 128 have no registers for a second
//   accumulator set and issue in two halves (the shared-memory term above charges their A
//   reads twice). Since the promotion's choice of weight-scale row is made at compile
//   time (dispatch_scale_split) they run 7-13% faster, and the sixth 2026-11-25 sweep
//   (every bf16 dense config, M 128..8192 x the seven DeepSeek (N, K), NOTES.md #48) fits
//   0.95: geomean chosen / fastest 1.022 -> 1.006. History: 1.35, then 1.2 (#27).
//   The same fit dropped a 1.2 penalty on widths that are not a multiple of 32 (112,
//   144; measured ~20% slower per flop before the split dispatch): 128x144 is now the
//   fastest config at (1024..2048, 2112, 7168). The sweep covered dense shapes only. The
//   contiguous layout keeps the earlier factors (kChunkedIssueGrouped, kOddWidthGrouped);
//   masked and offset kept them too while their main loop ran 1.2x the dense one (its
//   wgmma descriptors were not warp-uniform to the compiler: NOTES #60) and take the
//   dense ones since it runs at dense speed (every masked config forced on the
//   benchmark's draws: 128x144 and 128x160 fastest where they save a round).
// - kChunkedIssueRowBounded: masked and offset. Since the chunked loop stores a tile behind
//   the next tile's first MMAs (NOTES #68), one group at (4096, 7168) takes 30.6 us per
//   round of 128x160 tiles (1280 rows) against 25.2 for 128x128 (1024 rows): 1.217x for
//   1.25x the columns, which the model with 0.95 put at 1.275x and with 0.90 at 1.21x
//   (scripts/ab_grouped.py with fixed rows, 768..1280, NOTES #70). The dense sweep of the
//   same build keeps 0.95 (0.92 already moves (2048, 7168, 2048) onto a slower 128x192).
// Multicast is not modelled: in theory it halves the shared operand's L2 reads, but the
// sweep measured multicast configs within a few percent of plain ones (tie-break below).
constexpr double kSingleWgPenalty = 1.1;
constexpr double kChunkedIssue = 0.95;
constexpr double kChunkedIssueRowBounded = 0.90;
// NOTES: K (and M) from which a dense 256-row pick becomes 128 rows (select_uncached; #72).
constexpr int64_t kLongTileK = 12288;
constexpr int64_t kLongTileMinM = 1024;
// Stream-K (dense): a CTA's extra cost for its share of the last round (two partial tiles'
// pipeline fill and the partial sums' trip through L2), and the estimated gain a stream-K
// twin must show to replace the pick. NOTES: off (0: never) until it measures faster: the
// first build ran 0.91-0.98x the time at (128 | 1024, 7168, 16384) on 128x128 tiles but
// 1.05-1.36x elsewhere, and the model (4% predicted gain) picked it where it lost
// (benchmarks/NOTES.md #85). The configs are compiled and tested (forced) for that work.
constexpr double kStreamKFixupCycles = 4000;
constexpr double kStreamKGain = 0.0;
// NOTES: expected rows per group from which a contiguous 256-row pick becomes its 128-row
// twin (NOTES #80: 0.935-0.938x the time at 4 x 8192 and 8 x 4096 rows, (4096, 7168);
// 256 rows stay 3% faster at 32 x 256; between 256 and 4096 rows unmeasured).
constexpr int64_t kContigTwinMinRows = 2048;
constexpr double kChunkedIssueGrouped = 1.2;
constexpr double kOddWidthGrouped = 1.2;

bool multicast_legal(const KernelConfig& c, int64_t blocks_m, int64_t blocks_n, int num_sms) {
  if (c.layout != Layout::kDense && c.multicast == Multicast::kB) return false;  // dense only
  return model::multicast_fits(c.multicast, blocks_m, blocks_n, num_sms);
}

struct Estimate {
  double cycles;
  int grid;
  double bytes_per_kblock;
};

// M blocks of the problem: masked and offset count them per group from the expected rows.
int64_t blocks_m_of(const KernelConfig& c, int64_t m, int64_t groups) {
  if (c.layout == Layout::kMasked || c.layout == Layout::kOffset)
    return groups * ceil_div(std::max<int64_t>(m, 1), c.block_m);
  return ceil_div(m, c.block_m);
}

// NOTES: masked and offset groups hold the expected rows only on average, and a round of
// tiles more or less is what separates the configs there: one group of 1052 rows at
// N = 4096 needs three rounds of 128x128 tiles on 132 SMs where 1024 rows need two
// (70.6 us, where two rounds take ~47; 128x144 fills two rounds up to 1152 rows, 61.7 us at 1052:
// benchmarks/NOTES.md #60). So the model takes the expected number of rounds with every
// group's rows drawn independently and uniformly from expected x [1 - kRowSpread,
// 1 + kRowSpread] (router imbalance; the benchmark draws the same way), instead of the
// rounds at exactly the expected rows.
constexpr double kRowSpread = 0.25;
// Above this many terms the group sum's distribution is replaced by its mean (the
// relative spread of a sum of many groups is small).
constexpr int64_t kExactRoundTerms = 256;

// Work units (a tile, or a cluster's pair of tiles) of a blocks_m x blocks_n grid.
int64_t units_of(int64_t blocks_m, int64_t blocks_n, int cluster) {
  return std::max<int64_t>(1, blocks_m * blocks_n / cluster);
}

// Expected rounds of `clusters` CTA clusters over the tiles of `groups` groups of ~m rows.
double expected_rounds(const KernelConfig& c, int64_t m, int64_t blocks_n, int64_t groups, int64_t clusters) {
  auto rounds_of = [&](int64_t blocks_m) {
    return static_cast<double>(ceil_div(units_of(blocks_m, blocks_n, c.cluster()), clusters));
  };
  // One group's m blocks: P(b) = the share of [lo, hi] rows that need b blocks.
  const double lo = (1.0 - kRowSpread) * static_cast<double>(std::max<int64_t>(m, 1));
  const double hi = (1.0 + kRowSpread) * static_cast<double>(std::max<int64_t>(m, 1));
  const double bm = c.block_m;
  const int64_t b_lo = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(lo / bm)));
  const int64_t b_hi = std::max<int64_t>(b_lo, static_cast<int64_t>(std::ceil(hi / bm)));
  std::vector<double> p(static_cast<size_t>(b_hi - b_lo + 1));
  for (int64_t b = b_lo; b <= b_hi; ++b) {
    const double from = std::max(lo, (b - 1) * bm), to = std::min(hi, b * bm);
    p[static_cast<size_t>(b - b_lo)] = std::max(0.0, to - from) / (hi - lo);
  }
  if (groups * (b_hi - b_lo) > kExactRoundTerms) {
    double mean = 0;
    for (size_t i = 0; i < p.size(); ++i) mean += p[i] * static_cast<double>(b_lo + static_cast<int64_t>(i));
    return rounds_of(static_cast<int64_t>(std::llround(mean * static_cast<double>(groups))));
  }
  // The sum over the groups, exactly: dist[j] = P(total blocks = groups * b_lo + j).
  std::vector<double> dist{1.0};
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<double> next(dist.size() + p.size() - 1, 0.0);
    for (size_t i = 0; i < dist.size(); ++i)
      for (size_t j = 0; j < p.size(); ++j) next[i + j] += dist[i] * p[j];
    dist.swap(next);
  }
  double rounds = 0;
  for (size_t j = 0; j < dist.size(); ++j) rounds += dist[j] * rounds_of(groups * b_lo + static_cast<int64_t>(j));
  return rounds;
}

Estimate estimate(const KernelConfig& c, int64_t m, int64_t n, int64_t k, int64_t groups, int num_sms) {
  const int64_t blocks_n = ceil_div(n, c.block_n);
  const int cluster = c.cluster();
  int64_t clusters;
  double rounds;
  if (c.layout == Layout::kMasked || c.layout == Layout::kOffset) {
    // Every SM gets a CTA (the real tile count is only known on the device; CTAs without
    // work leave after reading the group table), and the rounds are the expected ones.
    clusters = num_sms / cluster;
    rounds = expected_rounds(c, m, blocks_n, groups, clusters);
  } else if (c.stream_k) {
    // Every SM gets a CTA: whole rounds of tiles, then the rest's K blocks shared out.
    const int64_t units = blocks_m_of(c, m, groups) * blocks_n;
    clusters = num_sms;
    rounds = static_cast<double>(units / num_sms) + static_cast<double>(units % num_sms) / num_sms;
  } else {
    const int64_t units = units_of(blocks_m_of(c, m, groups), blocks_n, cluster);
    clusters = std::min<int64_t>(num_sms / cluster, units);
    rounds = static_cast<double>(ceil_div(units, clusters));
  }
  const int64_t num_kb = ceil_div(k, 128);

  const double mma = 2.0 * c.block_m * c.block_n * 128 / kMmaFlopsPerClk;
  // Shared-memory traffic per K block: every wgmma (m64 x width x k32) reads its A and B
  // slices, once per 64 rows of the tile; the TMA writes the A, B and A-scale tiles.
  const bool chunked = c.block_m <= 128 && c.block_n > 128;  // issued as two halves
  const int width = chunked ? c.block_n / 2 : c.block_n;
  const double reads = (c.block_m / 64.0) * (c.block_n / width) * 4 * (64 * 32 + width * 32);
  const double writes = (c.block_m + c.block_n) * 128.0 + c.block_m * 4;
  const double smem = (reads + writes) / kSmemBytesPerClk;
  const double bytes = (c.block_m + c.block_n) * 128.0;
  const double load = bytes / kL2BytesPerClk;
  double block = std::max({mma, smem, load});
  if (c.block_m == 64) block *= kSingleWgPenalty;
  if (c.layout == Layout::kMasked || c.layout == Layout::kOffset) {
    if (chunked) block *= kChunkedIssueRowBounded;
  } else if (c.layout == Layout::kDense) {
    if (chunked) block *= kChunkedIssue;
  } else {
    if (chunked) block *= kChunkedIssueGrouped;
    if (c.block_n % 32 != 0) block *= kOddWidthGrouped;
  }
  const int out_bytes = c.out == OutDtype::kBF16 ? 2 : 4;
  const double tile = num_kb * block + kTileOverhead + c.block_m * c.block_n * out_bytes / 64.0;
  const double fixup = c.stream_k ? kStreamKFixupCycles : 0.0;
  return {rounds * tile + fixup, static_cast<int>(clusters * cluster), bytes};
}

// The compiled config with `k`'s layout, output and block_n, and the given block_m,
// multicast and A-scale layout; nullptr if the grid lacks it.
const Kernel1D2D* twin_of(const KernelConfig& k, int block_m, Multicast multicast, bool sa_row_major) {
  for (int i = 0; i < kNumKernels1D2D; ++i) {
    const KernelConfig& c = kKernels1D2D[i].config;
    if (c.layout == k.layout && c.out == k.out && c.block_n == k.block_n && c.block_m == block_m &&
        c.multicast == multicast && c.sa_row_major() == sa_row_major && !c.stream_k)
      return &kKernels1D2D[i];
  }
  return nullptr;
}

// The config that differs from `k` only in reading row-major A scales, or nullptr.
const Kernel1D2D* row_major_twin(const Kernel1D2D* k) {
  const KernelConfig& a = k->config;
  return twin_of(a, a.block_m, a.multicast, true);
}

Selection select_uncached(Layout layout, int64_t m, int64_t n, int64_t k, int64_t groups, OutDtype out,
                          int num_sms) {
  Selection best{nullptr, 0, 0};
  double best_bytes = 0;
  for (int i = 0; i < kNumKernels1D2D; ++i) {
    const KernelConfig& c = kKernels1D2D[i].config;
    if (c.out != out || c.layout != layout || c.sa_row_major() || c.stream_k) continue;
    const int64_t blocks_m = blocks_m_of(c, m, groups), blocks_n = ceil_div(n, c.block_n);
    if (!multicast_legal(c, blocks_m, blocks_n, num_sms)) continue;
    // NOTES: contiguous groups with K < 4096: each 256-row tile streams a new group's
    // weights from DRAM through a 3-stage ring, 16-32 K blocks long; the 5-stage 128-row
    // tiles measured 8% faster at (32 groups x 256 rows, 7168, 2048) and level at
    // K = 7168 (scripts/ab_grouped.py, benchmarks/NOTES.md #29).
    if (layout == Layout::kContiguous && c.block_m == 256 && k < 4096) continue;
    const Estimate e = estimate(c, m, n, k, groups, num_sms);
    // Prefer the lower estimate; within 2%, no cluster (measured: multicast rarely pays
    // off by more), then fewer bytes per block, then larger tiles.
    bool better = best.kernel == nullptr || e.cycles < best.est_cycles * 0.98;
    if (!better && e.cycles <= best.est_cycles * 1.02) {
      const KernelConfig& b = best.kernel->config;
      if (c.cluster() != b.cluster()) {
        // NOTES: 256-row tiles: sharing the 32 KB A tile across a cluster pair pays where
        // tiles are many and short (M >= 2048, K <= 1024: up to 8% in the 2026-11-25
        // sweep); elsewhere the pair's coupled 3-stage rings cost up to 15% (#27), and
        // no cluster is preferred everywhere else too.
        const bool pair_256 = c.block_m == 256 && b.block_m == 256 && m >= 2048 && k <= 1024;
        better = pair_256 ? c.cluster() > b.cluster() : c.cluster() < b.cluster();
      } else {
        better = e.bytes_per_kblock < best_bytes ||
                 (e.bytes_per_kblock == best_bytes && c.block_m * c.block_n > b.block_m * b.block_n);
      }
    }
    if (better) {
      best = {&kKernels1D2D[i], e.grid, e.cycles};
      best_bytes = e.bytes_per_kblock;
    }
  }
  // NOTES: dense 256-row tiles promote each wave after waiting for it (no registers for a
  // second accumulator set; the promotion costs their loop ~9%, #66), where 128x128 tiles
  // hide it behind a second set; the 256-row tiles win back their fewer, larger epilogues
  // only while tiles are short. Round-robin on an H200 (NOTES #72): at K = 16384 128x128
  // 1.04-1.07x faster (M = 1024-8192; N = 4096, 7168, 24576), 1.07x at (4096, 7168, 12288);
  // at K = 7168 level; at K <= 2048 256x128 2.5-4% faster. The model's linear per-tile
  // overhead does not capture the crossover, so from kLongTileK a 256-row pick becomes its
  // 128-row twin (no multicast: 128x128 with multicast A measured 1.12x slower there) where
  // M gives the twin several rounds of tiles: at (512, 7168, 16384), one round of 256-row
  // tiles on 112 CTAs, 256x128 stayed 5% faster.
  // The contiguous layout crosses over already at K = 7168 on long groups: 256x128 measured
  // 1.07x slower than the twin at 4 x 8192 and 8 x 4096 rows (scripts/contig_dup_check.py,
  // duplicated candidates, round-robin, H200; #80); K < 4096 never picks 256 rows there.
  const bool long_dense = layout == Layout::kDense && k >= kLongTileK && m >= kLongTileMinM;
  const bool long_groups = layout == Layout::kContiguous && groups > 0 && m / groups >= kContigTwinMinRows;
  if (best.kernel != nullptr && best.kernel->config.block_m == 256 && (long_dense || long_groups)) {
    if (const Kernel1D2D* t = twin_of(best.kernel->config, 128, Multicast::kNone, false)) {
      const Estimate e = estimate(t->config, m, n, k, groups, num_sms);
      best = {t, e.grid, e.cycles};
    }
  }
  // Stream-K: the pick's twin where the last round of tiles leaves enough SMs idle. Not in
  // batch-invariant mode: the K split (hence the sums' rounding) depends on M.
  if (best.kernel != nullptr && layout == Layout::kDense && !batch_invariant()) {
    const KernelConfig& b = best.kernel->config;
    for (int i = 0; i < kNumKernels1D2D; ++i) {
      const KernelConfig& c = kKernels1D2D[i].config;
      if (c.stream_k && c.out == b.out && c.block_m == b.block_m && c.block_n == b.block_n && b.multicast == Multicast::kNone) {
        const Estimate e = estimate(c, m, n, k, groups, num_sms);
        if (e.cycles < best.est_cycles * kStreamKGain) best = {&kKernels1D2D[i], e.grid, e.cycles};
        break;
      }
    }
  }
  if (best.kernel == nullptr)
    throw std::runtime_error(cat("fp8gemm: no compiled kernel for layout ", layout_name(layout), " with output ",
                                 out == OutDtype::kBF16 ? "bf16" : "fp32",
                                 " (the library was built with a grid that lacks it)"));
  return best;
}

}  // namespace

const char* layout_name(Layout l) {
  static const char* names[] = {"dense", "contiguous", "masked", "offset"};
  return names[static_cast<int>(l)];
}

std::string describe(const KernelConfig& c) {
  static const char* mc[] = {"none", "a", "b"};
  return cat("layout=", layout_name(c.layout), " block_m=", c.block_m, " block_n=", c.block_n, " stages=", c.stages,
             " multicast=", mc[static_cast<int>(c.multicast)], " out=", c.out == OutDtype::kBF16 ? "bf16" : "fp32",
             " smem=", c.smem_bytes, c.sa_row_major() ? cat(" sa=row sa_group=", c.sa_group) : std::string(),
             c.stream_k ? " stream_k=1" : "");
}

namespace {
std::atomic<int> g_forced{-1};
std::atomic<bool> g_batch_invariant{false};
}  // namespace

void set_batch_invariant(bool on) { g_batch_invariant.store(on, std::memory_order_relaxed); }
bool batch_invariant() { return g_batch_invariant.load(std::memory_order_relaxed); }

void force_kernel_1d2d(int index) { g_forced.store(index < kNumKernels1D2D ? index : -1); }
int forced_kernel_1d2d() { return g_forced.load(std::memory_order_relaxed); }

Selection select_1d2d(Layout layout, int64_t m, int64_t n, int64_t k, int64_t groups, OutDtype out, int num_sms,
                      bool sa_row_major) {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) {
    // Testing hook: serve with one chosen config wherever it is legal.
    const KernelConfig& c = kKernels1D2D[forced].config;
    if (c.out == out && c.layout == layout && c.sa_row_major() == sa_row_major &&
        multicast_legal(c, blocks_m_of(c, m, groups), ceil_div(n, c.block_n), num_sms)) {
      const Estimate e = estimate(c, m, n, k, groups, num_sms);
      return {&kKernels1D2D[forced], e.grid, e.cycles};
    }
  }
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int, int, bool, bool>;
  static std::map<Key, Selection> cache;
  static std::shared_mutex mutex;
  const Key key{static_cast<int>(layout), m, n, k, groups, static_cast<int>(out), num_sms, batch_invariant(),
                sa_row_major};
  {
    std::shared_lock<std::shared_mutex> lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  Selection s = select_uncached(layout, m, n, k, groups, out, num_sms);
  // Row-major scales: the same tile, ring depth and grid with the in-place scale reader
  // (gen_kernels.py sizes its scale boxes to keep the ring); the build may lack it.
  if (sa_row_major && s.kernel != nullptr) {
    s.kernel = row_major_twin(s.kernel);  // never stream-K: its grid is the twin's own
    if (s.kernel != nullptr) s.grid = estimate(s.kernel->config, m, n, k, groups, num_sms).grid;
  }
  std::unique_lock<std::shared_mutex> lock(mutex);
  if (cache.size() > 4096) cache.clear();  // bound memory for workloads with endless shapes
  if (cache.emplace(key, s).second && print_configs() && s.kernel != nullptr) {
    std::fprintf(stderr, "fp8gemm: gemm %s m=%lld n=%lld k=%lld groups=%lld sms=%d -> %s grid=%d\n",
                 layout_name(layout), (long long)m, (long long)n, (long long)k, (long long)groups, num_sms,
                 describe(s.kernel->config).c_str(), s.grid);
  }
  return s;
}

}  // namespace fp8gemm
