// Thin wrappers over the Hopper (sm_90a) PTX instructions the kernels use:
// mbarriers, TMA bulk tensor copies, cluster barriers, register rebalancing and wgmma bookkeeping.
#pragma once

#include <cstdint>
#include <type_traits>
#include <cuda.h>

namespace fp8gemm::sm90 {

__device__ __forceinline__ uint32_t smem_addr(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

// ---------------------------------------------------------------- mbarriers
// Invalidates an idle barrier (no pending arrivals or transactions) so that its memory may
// be initialised again.
__device__ __forceinline__ void mbarrier_inval(uint64_t* bar) {
  asm volatile("mbarrier.inval.shared::cta.b64 [%0];" ::"r"(smem_addr(bar)) : "memory");
}
__device__ __forceinline__ void mbarrier_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count));
}

__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
  const uint32_t addr = smem_addr(bar);
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (!done);
}

__device__ __forceinline__ void mbarrier_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)),
               "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(bar)) : "memory");
}

// Arrives on `bar` once `touch`, a value computed from every shared-memory load this warp
// made from the buffer being handed back, is ready. A plain arrive does not wait for the
// warp's outstanding loads (ptxas placed the LDS, then SYNCS.ARRIVE, then the FMULs using
// its data), and the producer refills the buffer through TMA, an async-proxy write the
// generic release does not order: under concurrent kernels the swap-AB kernel read
// activation scales already overwritten by the next refill (benchmarks/NOTES.md #49). Here
// the arrive's address carries a zero derived from `touch` (touch * 0 as an integer: 0 for
// every float, NaN included), so it cannot issue before the loads have returned. Only
// threads with `pred` arrive; a predicate rather than a branch, so that ptxas is free to
// schedule the caller's independent work (the promotion) ahead of the dependency chain
// instead of holding the whole warp at a divergent region's reconvergence.
__device__ __forceinline__ void mbarrier_arrive_after(uint64_t* bar, float touch, bool pred = true) {
  asm volatile(
      "{\n\t.reg .f32 t;\n\t.reg .u32 z, a;\n\t.reg .pred p;\n\t"
      "setp.ne.u32 p, %2, 0;\n\t"
      "mul.f32 t, %1, 0f00000000;\n\t"
      "cvt.rzi.u32.f32 z, t;\n\t"
      "add.u32 a, %0, z;\n\t"
      "@p mbarrier.arrive.shared::cta.b64 _, [a];\n\t}" ::"r"(smem_addr(bar)),
      "f"(touch), "r"(static_cast<uint32_t>(pred))
      : "memory");
}

// Arrive on the barrier at the same shared-memory offset in CTA `cta_rank` of the cluster.
__device__ __forceinline__ void mbarrier_arrive_cluster(uint64_t* bar, uint32_t cta_rank) {
  uint32_t remote;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(smem_addr(bar)), "r"(cta_rank));
  // Default semantics: the caller has already waited for its reads of the stage (wgmma
  // wait_group), so no memory fence is needed; an explicit .release.cluster would make
  // ptxas emit a GPU-wide MEMBAR on every call.
  asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];" ::"r"(remote) : "memory");
}

// ---------------------------------------------------------------- TMA
__device__ __forceinline__ void tma_prefetch_descriptor(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
          smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1)
      : "memory");
}

// Load one box and deliver it to the same offset in every CTA of `cta_mask`,
// signalling each destination CTA's barrier at `bar`'s offset.
__device__ __forceinline__ void tma_load_2d_multicast(void* dst, const CUtensorMap* map, uint64_t* bar, uint16_t cta_mask,
                                                      int c0, int c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
      " [%0], [%1, {%4, %5}], [%2], %3;" ::"r"(smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "h"(cta_mask), "r"(c0), "r"(c1)
      : "memory");
}

__device__ __forceinline__ void tma_store_2d(const CUtensorMap* map, const void* src, int c0, int c1) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_addr(src)), "r"(c0), "r"(c1)
               : "memory");
}

// out[box] += smem[box], element-wise in fp32, performed by the copy engine.
__device__ __forceinline__ void tma_reduce_add_2d(const CUtensorMap* map, const void* src, int c0, int c1) {
  asm volatile("cp.reduce.async.bulk.tensor.2d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3}], [%1];" ::"l"(
                   reinterpret_cast<uint64_t>(map)),
               "r"(smem_addr(src)), "r"(c0), "r"(c1)
               : "memory");
}

__device__ __forceinline__ void tma_store_commit() { asm volatile("cp.async.bulk.commit_group;" ::: "memory"); }

// Wait until the shared-memory sources of all committed stores have been read.
__device__ __forceinline__ void tma_store_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read 0;" ::: "memory");
}

__device__ __forceinline__ void tma_store_wait_all() { asm volatile("cp.async.bulk.wait_group 0;" ::: "memory"); }

// Order this thread's generic-proxy shared-memory writes before later async-proxy reads.
__device__ __forceinline__ void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}

// ---------------------------------------------------------------- compile-time loops
template <int kValue>
using Int = std::integral_constant<int, kValue>;

// f(Int<0>{}), ..., f(Int<kCount - 1>{}): a loop whose index is a constant in every body.
template <int kCount, typename F, int kI = 0>
__device__ __forceinline__ void static_for(F&& f) {
  if constexpr (kI < kCount) {
    f(Int<kI>{});
    static_for<kCount, F, kI + 1>(static_cast<F&&>(f));
  }
}

// f(Int<value>{}) for a runtime value in [0, kCount); the last case takes every value not
// matched before it, so exactly one call runs on every path.
template <int kCount, typename F, int kI = 0>
__device__ __forceinline__ void static_dispatch(int value, F&& f) {
  if constexpr (kI == kCount - 1) {
    f(Int<kI>{});
  } else {
    if (value == kI) {
      f(Int<kI>{});
    } else {
      static_dispatch<kCount, F, kI + 1>(value, static_cast<F&&>(f));
    }
  }
}

constexpr int gcd_int(int a, int b) { return b == 0 ? a : gcd_int(b, a % b); }

// The weight scales are 128x128 blocks: a tile of kBlockN columns starting at n_base takes
// its columns from n_base's scale row up to the next 128 boundary and from the following
// row past it. f(Int<kSplit>{}) with kSplit the first 8-column group past that boundary
// (kBlockN / 8 when the tile has none), a constant in f's body: the promotion's per-group
// choice of scale is then made at compile time. n_base is a multiple of kBlockN, so
// n_base % 128 takes 128 / gcd(kBlockN, 128) values; one instance of f per distinct split.
template <int kBlockN, typename F>
__device__ __forceinline__ void dispatch_scale_split(int n_base, F&& f) {
  constexpr int kG = gcd_int(kBlockN, 128);
  constexpr int kValues = 128 / kG;  // n_base % 128 == r * kG, r < kValues
  // The first r whose boundary (128 - r * kG) falls inside the tile; kValues if none does.
  constexpr int kFirst = 128 < kBlockN ? 0 : (128 - kBlockN) / kG + 1;
  constexpr int kNone = kFirst > 0 ? 1 : 0;  // one case for "no boundary inside"
  const int r = (n_base % 128) / kG;
  const int v = r < kFirst ? 0 : r - kFirst + kNone;
  static_dispatch<kValues - kFirst + kNone>(v, [&](auto v_const) {
    constexpr int kV = decltype(v_const)::value;
    if constexpr (kNone && kV == 0) {
      f(Int<kBlockN / 8>{});
    } else {
      f(Int<(128 - (kFirst + kV - kNone) * kG) / 8>{});
    }
  });
}

// ---------------------------------------------------------------- programmatic dependent launch
// Wait until the grid this one depends on (launched before it in the stream with PDL) has
// finished and its memory is visible; a no-op when the launch was not programmatic.
__device__ __forceinline__ void griddep_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
// Let the next grid in the stream start its prologue (it still waits for this one in
// griddep_wait before touching memory).
__device__ __forceinline__ void griddep_launch_dependents() { asm volatile("griddepcontrol.launch_dependents;"); }

// ---------------------------------------------------------------- cluster, registers, named barriers
__device__ __forceinline__ uint32_t cluster_cta_rank() {
  uint32_t rank;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(rank));
  return rank;
}

__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

template <uint32_t kRegs>
__device__ __forceinline__ void regs_increase() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegs));
}

template <uint32_t kRegs>
__device__ __forceinline__ void regs_decrease() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegs));
}

__device__ __forceinline__ void named_barrier_sync(uint32_t id, uint32_t threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// ---------------------------------------------------------------- wgmma bookkeeping
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

// Keeps the compiler from moving accumulator reads/writes across wgmma issue/wait.
template <int kCount>
__device__ __forceinline__ void fence_registers(float* r) {
#pragma unroll
  for (int i = 0; i < kCount; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

// The deferred-promotion software pipeline over kDepth accumulator sets, shared by every
// kernel family: K block kb is issued into set kb % kDepth while the kDepth - 1 blocks
// before it are still in flight, and the oldest is retired (promoted) once wait_group
// leaves only the newer ones pending. `issue(Int<d>{})` loads and issues the next block
// into set d; `retire(Int<d>{})` promotes set d and releases its stage. Set indices are
// compile-time everywhere (unrolled chunks of kDepth blocks, one explicit drain per
// remainder), so ptxas sees which accumulators are in flight; every path ends in exactly
// one drain (a path with none would leave groups in flight, and ptxas would serialize
// every wgmma: C7514).
// `prefetch(Int<d>{})`, where given, runs once before each retire(Int<d>{}), ahead of the
// next block's issue and the wgmma wait where there are ones: shared-memory reads the
// promotion needs (the 1D1D kernel's per-column scales) then overlap the wait instead of
// following it, and go out before the new block's MMAs start reading their operands.
struct NoPrefetch {
  template <typename D>
  __device__ __forceinline__ void operator()(D) const {}
};

template <int kDepth, typename Issue, typename Retire, typename Prefetch = NoPrefetch>
__device__ __forceinline__ void deferred_pipeline(int num_kb, Issue&& issue, Retire&& retire,
                                                  Prefetch&& prefetch = Prefetch{}) {
  if (num_kb < kDepth) {
    for (int kb = 0; kb < num_kb; ++kb) {
      issue(Int<0>{});
      prefetch(Int<0>{});
      wgmma_wait<0>();
      retire(Int<0>{});
    }
    return;
  }
  static_for<kDepth - 1>([&](auto d) { issue(d); });
  int kb = kDepth - 1;
  for (; kb + kDepth <= num_kb; kb += kDepth) {
    static_for<kDepth>([&](auto j) {
      prefetch(j);
      issue(Int<(decltype(j)::value + kDepth - 1) % kDepth>{});
      wgmma_wait<kDepth - 1>();
      retire(j);
    });
  }
  // The last num_kb - kb < kDepth blocks, then the kDepth - 1 still in flight.
  auto finish = [&](auto rem_const) {
    constexpr int rem = decltype(rem_const)::value;
    static_for<rem>([&](auto j) {
      prefetch(j);
      issue(Int<(decltype(j)::value + kDepth - 1) % kDepth>{});
      wgmma_wait<kDepth - 1>();
      retire(j);
    });
    prefetch(Int<rem % kDepth>{});
    wgmma_wait<0>();
    static_for<kDepth - 1>([&](auto i) {
      if constexpr (decltype(i)::value > 0) prefetch(Int<(rem + decltype(i)::value) % kDepth>{});
      retire(Int<(rem + decltype(i)::value) % kDepth>{});
    });
  };
  static_dispatch<kDepth>(num_kb - kb, finish);
}

// Shared-memory matrix descriptor for a K-major operand tile stored with the
// 128-byte swizzle: rows of 128 bytes, 8-row groups 1024 bytes apart. The tile
// must start on a 1024-byte boundary; advancing along K inside the 128-byte row
// is done by adding (bytes >> 4) to the start-address field.
__device__ __forceinline__ uint64_t make_smem_desc_sw128(const void* tile) {
  const uint64_t addr = smem_addr(tile);
  uint64_t desc = 0;
  desc |= (addr & 0x3FFFF) >> 4;            // bits 0-13: start address >> 4
  desc |= uint64_t(1) << 16;                // bits 16-29: leading byte offset (unused for swizzled K-major)
  desc |= uint64_t(1024 >> 4) << 32;        // bits 32-45: stride byte offset between 8-row groups
  desc |= uint64_t(1) << 62;                // bits 62-63: 128-byte swizzle
  return desc;
}

// ---------------------------------------------------------------- flags in global memory
// A flag set once its writer's stores (ordered before it by a fence and a barrier) are
// visible at GPU scope, and the wait for it (stream-K fix-up).
__device__ __forceinline__ void flag_release(unsigned* flag) {
  asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(flag), "r"(1u) : "memory");
}
__device__ __forceinline__ void flag_wait(const unsigned* flag) {
  unsigned v;
  do {
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(flag) : "memory");
  } while (v == 0);
}

// ---------------------------------------------------------------- CTA timeline trace
// Measurement builds only (cmake -DFP8GEMM_CTA_TRACE=ON): each CTA prints when it started,
// when its barriers were ready, when its first, second and last tiles began and when it
// finished, on the global nanosecond timer (scripts/cta_trace.py reads it). Compiled out
// otherwise.
#ifdef FP8GEMM_CTA_TRACE
__device__ __forceinline__ uint64_t trace_clock() {
  uint64_t t;
  asm volatile("mov.u64 %0, %globaltimer;" : "=l"(t));
  return t;
}
__device__ __forceinline__ uint32_t trace_smid() {
  uint32_t id;
  asm volatile("mov.u32 %0, %smid;" : "=r"(id));
  return id;
}
// A device printf costs ~0.3 ms while 132 CTAs print and slows every CTA still running, so
// each CTA keeps four timestamps in registers and prints them only once every CTA of the grid
// has taken its last one (a grid barrier on two counters of this module; the persistent grid
// is co-resident). Times are nanoseconds after the CTA's start t0.
__device__ unsigned int g_trace_arrived;
__device__ volatile unsigned int g_trace_generation;
__device__ __noinline__ void trace_print(uint64_t t0, uint64_t ready, uint64_t first, uint64_t second, uint64_t last,
                                         int tiles) {
  const uint64_t end = trace_clock() - t0;
  const unsigned int total = gridDim.x * gridDim.y * gridDim.z;
  const unsigned int gen = g_trace_generation;
  __threadfence();
  if (atomicAdd(&g_trace_arrived, 1) == total - 1) {
    g_trace_arrived = 0;
    __threadfence();
    g_trace_generation = gen + 1;
  } else {
    while (g_trace_generation == gen) {
    }
  }
  printf("FP8TR %d %u %llu %llu %llu %llu %llu %llu %d\n", blockIdx.x, trace_smid(), static_cast<unsigned long long>(t0),
         static_cast<unsigned long long>(ready), static_cast<unsigned long long>(first),
         static_cast<unsigned long long>(second), static_cast<unsigned long long>(last),
         static_cast<unsigned long long>(end), tiles);
}
#define FP8GEMM_CTA_TRACE_CODE(...) __VA_ARGS__
#else
#define FP8GEMM_CTA_TRACE_CODE(...)
#endif

}  // namespace fp8gemm::sm90
