#pragma once
// Development only (-DFP8GEMM_HOST_TRACE): per-stage host time of the ops, summed per label.
#ifdef FP8GEMM_HOST_TRACE
#include <chrono>
namespace fp8gemm::trace {
extern long long g_sum[16];
extern long long g_count;
inline thread_local long long t_last = 0;
inline long long now() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
inline void start() { t_last = now(); ++g_count; }
inline void mark(int i) { const long long t = now(); g_sum[i] += t - t_last; t_last = t; }
}  // namespace fp8gemm::trace
#define FP8GEMM_TRACE_START() ::fp8gemm::trace::start()
#define FP8GEMM_TRACE(i) ::fp8gemm::trace::mark(i)
#else
#define FP8GEMM_TRACE_START() ((void)0)
#define FP8GEMM_TRACE(i) ((void)0)
#endif
